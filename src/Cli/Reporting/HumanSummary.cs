using System.Globalization;
using Spectre.Console;
using StreamLoader.Core.Pipeline;

namespace StreamLoader.Cli.Reporting;

/// <summary>Renders a <see cref="RunSummary"/> for people: totals, loss, and where each stage spent its time.</summary>
public static class HumanSummary
{
    private static void WriteInference(Table totals, InferenceReport inference, Func<long, string> n)
    {
        string P(double? value) => value is double v ? v.ToString("P1", CultureInfo.InvariantCulture) : "-";
        totals.AddRow("model", Markup.Escape($"{inference.ModelTask} ({inference.Checkpoint}, hash {inference.ModelHash}) on {inference.Device}"));
        if (inference.AlreadyComplete)
        {
            totals.AddRow("output", Markup.Escape($"{inference.Output}: already finished, {n(inference.RowsTotal ?? 0)} rows"));
            return;
        }
        totals.AddRow("rows written", $"{n(inference.Rows)} of {n(inference.Documents)} documents ({n(inference.FilteredOut)} filtered out, {n(inference.Empty)} empty, {n(inference.Truncated)} truncated)");
        if (inference.ResumedAfterRows > 0 || inference.ResumedAfterDocuments > 0)
        {
            totals.AddRow("continued after", $"{n(inference.ResumedAfterRows)} rows ({n(inference.ResumedAfterDocuments)} documents) an earlier run committed{(inference.DiscardedFiles > 0 ? $"; {inference.DiscardedFiles} uncommitted file(s) discarded" : string.Empty)}");
        }
        if (inference.Predicted.Count > 0)
        {
            totals.AddRow("predicted", Markup.Escape(string.Join(", ", inference.Predicted.Where(p => p.Value > 0).OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value:N0}"))));
        }
        if (inference.Written is { } written)
        {
            totals.AddRow("batching", string.Create(CultureInfo.InvariantCulture, $"{inference.Batching} ({(inference.Batching == "sorted" ? $"{inference.MaxTokensPerBatch:N0} tokens a batch" : $"{inference.BatchSize} rows a batch")}, windows of {inference.SortWindow:N0}): {written.Batches:N0} batches, padding {P(written.PaddingFraction)}, {ProgressViews.Human(written.DocumentsPerSecond ?? 0)} documents/s in the model"));
        }
        if (inference.Comparison is { } c)
        {
            totals.AddRow("sorted vs fixed (same documents)", string.Create(CultureInfo.InvariantCulture, $"{c.Documents:N0} documents: padding {P(c.Sorted.PaddingFraction)} vs {P(c.Fixed.PaddingFraction)}, {c.Sorted.Seconds:0.00} s vs {c.Fixed.Seconds:0.00} s: {SortedAgainstFixed(c.SortedSpeedup)}{(c.LabelDisagreements > 0 ? $"; {c.LabelDisagreements:N0} top labels differ" : string.Empty)}"));
        }
        if (inference.MemoryRetries > 0)
        {
            totals.AddRow("out of memory", $"{n(inference.MemoryRetries)} batches halved; rows cut to {inference.RowLimit}");
        }
        totals.AddRow("output", Markup.Escape(inference.Marker is null ? $"{inference.Output} (not finished: relaunch with the same --output to continue)" : $"{inference.Output} ({n(inference.RowsTotal ?? 0)} rows; marker {inference.Marker})"));
    }

    /// <summary>How sorted batching compared with fixed batches, from fixed seconds over sorted seconds: faster or slower.</summary>
    internal static string SortedAgainstFixed(double? speedup) => speedup switch
    {
        null or <= 0 or double.NaN => "no speed compared",
        >= 1 => string.Create(CultureInfo.InvariantCulture, $"{speedup:0.00}x faster sorted"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{1 / speedup:0.00}x slower sorted"),
    };

    /// <summary>Columns a summary table takes in a log (stderr not a terminal): its long values wrap, as on a terminal.</summary>
    internal const int LogTableWidth = 100;

    /// <summary>
    /// A terminal's tables fit its width; a log's console is as wide as its longest line (messages are never wrapped
    /// there), so its tables are held to <see cref="LogTableWidth"/> rather than grow to their longest value.
    /// </summary>
    private static int? TableWidth(IAnsiConsole console) => console.Profile.Width > LogTableWidth + 20 ? LogTableWidth : null;

    public static void Write(RunSummary summary, IAnsiConsole console)
    {
        var totals = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(summary.Task)} {summary.Command}: {Markup.Escape(summary.Outcome)}[/]");
        totals.AddColumn("what").AddColumn(new TableColumn("value").RightAligned());
        string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        string Rate(double value) => ProgressViews.Human(value) + "/s";
        totals.AddRow("documents tokenized", $"{N(summary.Documents)} ({Rate(summary.DocumentsPerSecond)})");
        string tokenMeaning = summary.Command switch
        {
            "train" => "trained on",
            "infer" => "predicted",
            "load" => "sent",
            _ => "delivered",
        };
        totals.AddRow($"tokens {tokenMeaning}", $"{N(summary.Tokens)} ({Rate(summary.TokensPerSecond)})");
        if (summary.TokensTokenized is long tokenized && tokenized != summary.Tokens)
        {
            totals.AddRow("tokens tokenized", N(tokenized));
        }
        totals.AddRow("batches", $"{N(summary.Batches)} ({Rate(summary.BatchesPerSecond)})");
        if (summary.Steps > 0 || summary.TotalSteps > 0)
        {
            totals.AddRow("steps", summary.TotalSteps is long total && total != summary.Steps ? $"{N(summary.Steps)} (step {N(total)} in all)" : N(summary.Steps));
        }
        if (summary.LossFirst is double first && summary.LossLast is double last)
        {
            totals.AddRow("loss first -> last", string.Create(CultureInfo.InvariantCulture, $"{first:0.0000} -> {last:0.0000}"));
        }
        totals.AddRow("wall time", string.Create(CultureInfo.InvariantCulture, $"{summary.WallSeconds:0.0} s"));
        if (summary.PipelineTokensPerSecond is double pipeline)
        {
            totals.AddRow("tokenized by the pipeline", string.Create(CultureInfo.InvariantCulture, $"{Rate(pipeline)} over {summary.PipelineSeconds:0.00} s"));
        }
        if (summary.FirstBatchSeconds is double firstBatch)
        {
            totals.AddRow("first batch", string.Create(CultureInfo.InvariantCulture, $"{firstBatch * 1000:0} ms after the pipeline started ({summary.FirstBatchAfterProcessStartSeconds * 1000:0} ms after the process did)"));
        }
        if (summary.TokenizerCeilingTokensPerSecond is double ceiling && summary.Efficiency is double efficiency)
        {
            totals.AddRow("tokenizer alone (ceiling)", string.Create(CultureInfo.InvariantCulture, $"{Rate(summary.TokenizerSingleThreadTokensPerSecond ?? 0)} on 1 thread, {Rate(ceiling)} on all, same {summary.CeilingDocuments:N0} documents"));
            totals.AddRow("efficiency", string.Create(CultureInfo.InvariantCulture, $"{efficiency:0.00} of the ceiling"));
            if (summary.ProviderTokensPerSecond is double feed && summary.ProviderAloneSeconds is double providerSeconds)
            {
                totals.AddRow("provider alone", string.Create(CultureInfo.InvariantCulture, $"read and decoded them on one thread in {providerSeconds:0.000} s: {Rate(feed)} of those documents' tokens"));
            }
            if (summary.ProviderSerialSeconds is double serialSeconds && summary.ProviderSerialTokensPerSecond is double serial)
            {
                totals.AddRow("provider's serial stage", summary.ProviderSerialReaders is > 1 and int readers && summary.ProviderSerialOneAtATimeSeconds is double oneAtATime
                    ? string.Create(CultureInfo.InvariantCulture, $"read and framed them without decoding in {oneAtATime:0.000} s one part at a time, {serialSeconds:0.000} s on {readers} reading threads side by side: {Rate(serial)}")
                    : string.Create(CultureInfo.InvariantCulture, $"read and framed them without decoding in {serialSeconds:0.000} s: {Rate(serial)}"));
            }
            if (summary.TokenizerThreadsFed is double fed && summary.CpuBoundLimitTokensPerSecond is double limit && summary.FractionOfCpuBoundLimit is double fraction)
            {
                // Fewer threads fed than cores: more workers cannot help, the provider's serial stage is the limit.
                totals.AddRow("what limits this machine", string.Create(CultureInfo.InvariantCulture,
                    $"the provider's serial stage feeds {fed:0.0} tokenizer threads; CPU-bound limit {Rate(limit)} on {Environment.ProcessorCount} cores; the pipeline reached {fraction:0.00} of it"));
            }
            if (summary.BatchBuilderTokensPerSecond is double builder && summary.CpuBoundLimitWithBatchingTokensPerSecond is double withBatching && summary.FractionOfCpuBoundLimitWithBatching is double ofIt)
            {
                // The rest of the gap to 1.0 is what handing work between threads, the GC and the JIT cost.
                totals.AddRow("batch building", string.Create(CultureInfo.InvariantCulture,
                    $"{Rate(builder)} on 1 thread; with it the CPU-bound limit is {Rate(withBatching)} ({withBatching / summary.CpuBoundLimitTokensPerSecond:0.00} of the one above); the pipeline reached {ofIt:0.00} of that"));
            }
            if (summary.TokenizerBesideProviderTokensPerSecond is double beside && summary.TokenizerSingleThreadTokensPerSecond is double alone && alone > 0)
            {
                // Below 1.0, the two stages slow each other down on this machine (shared caches, memory, a shared core, the reader's GCs).
                totals.AddRow("tokenizer beside the provider", string.Create(CultureInfo.InvariantCulture, $"{Rate(beside)} on 1 thread while the provider reads on another, {beside / alone:0.00} of alone"));
            }
        }
        if (summary.BottleneckStage is { } bottleneck)
        {
            totals.AddRow("bottleneck stage", Markup.Escape(bottleneck));
        }
        if (summary.CoresBusy is double busy && summary.Cores is int cores)
        {
            // Near all of them busy, more workers cannot help: the stages already share every core.
            totals.AddRow("CPU", string.Create(CultureInfo.InvariantCulture, $"{busy:0.0} of {cores} cores busy on average ({summary.PipelineCpuSeconds:0.00} CPU-s over the pipeline's {summary.PipelineSeconds:0.00} s)"));
        }
        if (summary.AllocatedBytesPerBatch is double perBatch)
        {
            string parts = summary.OtherAllocatedBytesPerBatch is double other
                ? string.Create(CultureInfo.InvariantCulture, $" (documents' text {ProgressViews.Human(summary.DocumentTextBytesPerBatch ?? 0)}B, tokenizer {ProgressViews.Human(summary.TokenizerAllocatedBytesPerBatch ?? 0)}B, the rest {ProgressViews.Human(other)}B)")
                : string.Empty;
            totals.AddRow("allocated", string.Create(CultureInfo.InvariantCulture, $"{ProgressViews.Human(perBatch)}B per batch{parts}, GC paused {summary.GcPauseSeconds:0.000} s, peak RSS {ProgressViews.Human(summary.PeakRssBytes ?? 0)}B"));
        }
        if (summary.Provider is { } provider)
        {
            long skipped = provider.Skipped.Values.Sum();
            // The reader runs ahead of the batcher (shuffle buffer, queues), so it read more than was tokenized.
            totals.AddRow("input records read", $"{N(provider.RecordsRead)}, holding {N(provider.DocumentsYielded)} documents ({N(provider.DocumentsEmitted)} handed on)");
            totals.AddRow("records skipped", skipped == 0 ? "0" : Markup.Escape(string.Join(", ", provider.Skipped.Select(p => $"{p.Key} {p.Value:N0}"))));
            if (provider.ResumeSkipped > 0)
            {
                totals.AddRow("documents before the resume point", N(provider.ResumeSkipped));
            }
            if (provider.Redealt is { } redealt)
            {
                totals.AddRow("re-dealt", Markup.Escape(redealt));
            }
            if (provider.WorldSize > 1)
            {
                totals.AddRow("shard", $"rank {provider.Rank} of {provider.WorldSize}{(provider.Sharding == "global" ? $", one document in {provider.WorldSize} of the global order" : string.Empty)} ({provider.OtherRanks:N0} documents on other ranks)");
            }
        }
        if (summary.Batcher is { } batcher)
        {
            if (batcher.PaddingFraction is double padding)
            {
                totals.AddRow("padding", string.Create(CultureInfo.InvariantCulture, $"{padding:P1} of the batches' positions"));
            }
            if (batcher.Skipped.Count > 0)
            {
                totals.AddRow("task skipped or cut", Markup.Escape(string.Join(", ", batcher.Skipped.Select(p => $"{p.Key} {p.Value:N0}"))));
            }
        }
        if (summary.Device is { } device)
        {
            totals.AddRow("device", Markup.Escape($"{device.Device}, model {device.Model}"));
            if (device.InitializedFrom is not null)
            {
                totals.AddRow("initialised from", Markup.Escape(device.InitializedFrom));
            }
            if (device.Evaluation is { Evaluations.Count: > 0 } evaluation)
            {
                EvaluationPoint final = evaluation.Evaluations[^1];
                totals.AddRow("held out", Markup.Escape($"{evaluation.HeldOut}: {final.Rows:N0} rows{(evaluation.RowsNotKept > 0 ? $" ({evaluation.RowsNotKept:N0} more past the cap: not trained on, not evaluated)" : string.Empty)}"));
                totals.AddRow("model (held out)", string.Create(CultureInfo.InvariantCulture, $"accuracy {final.Accuracy:0.000}, micro-F1 {final.MicroF1:0.000}, macro-F1 {final.MacroF1:0.000} at step {final.Step:N0}"));
                foreach ((string name, ScoreReport score) in evaluation.Baselines)
                {
                    totals.AddRow(Markup.Escape(name.Replace('_', ' ')), string.Create(CultureInfo.InvariantCulture, $"accuracy {score.Accuracy:0.000}, micro-F1 {score.MicroF1:0.000}, macro-F1 {score.MacroF1:0.000}"));
                }
            }
            if (device.ResumedFrom is not null)
            {
                totals.AddRow("resumed from", Markup.Escape(device.ResumedFrom));
            }
            totals.AddRow("checkpoint", device.Checkpoint is null ? "none written" : Markup.Escape(device.Checkpoint));
            if (device.Checkpoint is not null && summary.Provider?.PositionSaved is not null)
            {
                totals.AddRow("to continue", Markup.Escape($"--resume {device.Checkpoint}"));
            }
        }
        if (summary.Transport is { } transport)
        {
            string text = transport.Consumers is int consumers
                ? $"{transport.Endpoint} (protocol {transport.Protocol}): {consumers} {(consumers == 1 ? "consumer" : "consumers")} joined, {transport.Lost} lost, {transport.Refused ?? 0} refused{(transport.Unauthorized is > 0 ? $" ({transport.Unauthorized} without an authorized key)" : string.Empty)}{(transport.Throttled is > 0 ? $", {transport.Throttled:N0} messages from unjoined peers dropped unanswered" : string.Empty)}; {transport.Sent:N0} batches taken = {transport.Acknowledged:N0} acknowledged + {transport.Returned:N0} returned + {transport.Undeliverable:N0} undeliverable + {transport.InFlightAtStop ?? 0:N0} in flight at the stop ({transport.Redelivered:N0} sent again, {transport.IgnoredAcks ?? 0:N0} acknowledgements ignored)" + (transport.EndsUnsent is > 0 ? $"; {transport.EndsUnsent} consumers never read the end of the stream" : string.Empty) + (transport.Unaccounted is { } unaccounted ? $"; NOT ACCOUNTED FOR: {unaccounted}" : string.Empty)
                : $"{transport.Endpoint} (protocol {transport.Protocol}): {transport.Received:N0} batches received" + (transport.StreamTotals is { } stream ? $"; the stream: {stream.GetValueOrDefault("total")} acknowledged over {stream.GetValueOrDefault("consumers")} consumers, {stream.GetValueOrDefault("redelivered")} sent again" : string.Empty);
            totals.AddRow("transport", Markup.Escape(text));
            if (transport.ByConsumer is { Count: > 0 } byConsumer)
            {
                totals.AddRow("acknowledged by", Markup.Escape(string.Join(", ", byConsumer.Select(p => $"{p.Key} {p.Value:N0}"))));
            }
        }
        if (summary.Inference is { } inference)
        {
            WriteInference(totals, inference, N);
        }
        totals.Width = TableWidth(console);
        console.Write(totals);

        var stages = new Table().Border(TableBorder.Simple).Title("stages (seconds)");
        stages.AddColumn("stage").AddColumn(new TableColumn("in").RightAligned()).AddColumn(new TableColumn("out").RightAligned())
            .AddColumn(new TableColumn("busy").RightAligned()).AddColumn(new TableColumn("waiting upstream").RightAligned())
            .AddColumn(new TableColumn("waiting downstream").RightAligned()).AddColumn(new TableColumn("worker busy").RightAligned());
        foreach (StageSnapshot stage in summary.Stages)
        {
            stages.AddRow(
                stage.Name,
                stage.ItemsIn.ToString("N0", CultureInfo.InvariantCulture),
                stage.ItemsOut.ToString("N0", CultureInfo.InvariantCulture),
                stage.BusySeconds.ToString("0.00", CultureInfo.InvariantCulture),
                stage.WaitUpstreamSeconds.ToString("0.00", CultureInfo.InvariantCulture),
                stage.WaitDownstreamSeconds.ToString("0.00", CultureInfo.InvariantCulture),
                stage.WorkerBusySeconds?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-");
        }
        stages.Width = TableWidth(console);
        console.Write(stages);
        console.MarkupLine("[grey]tokens count ids in batches without padding, special tokens included; input records are the source's own units " +
            "(lines of a JSONL or CirrusSearch file, where index lines count too; rows of a CSV, Arrow or Parquet file; pages of a Wikipedia XML dump; " +
            "XML members of the built-in corpus), so they differ from documents. " +
            "Stage times: busy, waiting for the stage before (upstream is slower), waiting for the stage after (downstream is slower).[/]");

        if (summary.Provider is { SkipExamples.Count: > 0 } withExamples)
        {
            foreach ((string reason, IReadOnlyList<string> examples) in withExamples.SkipExamples)
            {
                foreach (string example in examples)
                {
                    console.MarkupLine($"[yellow]skipped ({Markup.Escape(reason)})[/]: {Markup.Escape(example)}");
                }
            }
        }
        if (summary.Error is not null)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(summary.Error)}");
        }
    }
}
