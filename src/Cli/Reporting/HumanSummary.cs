using System.Globalization;
using Spectre.Console;
using StreamLoader.Core.Pipeline;

namespace StreamLoader.Cli.Reporting;

/// <summary>Renders a <see cref="RunSummary"/> for people: totals, loss, and where each stage spent its time.</summary>
public static class HumanSummary
{
    public static void Write(RunSummary summary, IAnsiConsole console)
    {
        var totals = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(summary.Task)} {summary.Command}: {Markup.Escape(summary.Outcome)}[/]");
        totals.AddColumn("what").AddColumn(new TableColumn("value").RightAligned());
        totals.AddRow("documents", summary.Documents.ToString("N0", CultureInfo.InvariantCulture));
        totals.AddRow("tokens", summary.Tokens.ToString("N0", CultureInfo.InvariantCulture));
        totals.AddRow("batches", summary.Batches.ToString("N0", CultureInfo.InvariantCulture));
        if (summary.Steps > 0)
        {
            totals.AddRow("steps", summary.Steps.ToString("N0", CultureInfo.InvariantCulture));
            totals.AddRow("loss first -> last", string.Create(CultureInfo.InvariantCulture, $"{summary.LossFirst:0.0000} -> {summary.LossLast:0.0000}"));
        }
        totals.AddRow("wall time", string.Create(CultureInfo.InvariantCulture, $"{summary.WallSeconds:0.0} s"));
        totals.AddRow("tokens/s", ProgressViews.Human(summary.TokensPerSecond));
        if (summary.Provider is { } provider)
        {
            totals.AddRow("records read", provider.RecordsRead.ToString("N0", CultureInfo.InvariantCulture));
            long skipped = provider.Skipped.Values.Sum();
            totals.AddRow("records skipped", skipped == 0 ? "0" : Markup.Escape(string.Join(", ", provider.Skipped.Select(p => $"{p.Key} {p.Value:N0}"))));
            if (provider.ResumeSkipped > 0)
            {
                totals.AddRow("skipped to resume", provider.ResumeSkipped.ToString("N0", CultureInfo.InvariantCulture));
            }
            if (provider.PositionSaved is not null)
            {
                totals.AddRow("to continue", Markup.Escape($"--resume {provider.PositionSaved}"));
            }
            if (provider.WorldSize > 1)
            {
                totals.AddRow("shard", $"rank {provider.Rank} of {provider.WorldSize} ({provider.OtherRanks:N0} documents on other ranks)");
            }
        }
        if (summary.Device is { } device)
        {
            totals.AddRow("device", Markup.Escape($"{device.Device}, model {device.Model}"));
            if (device.Checkpoint is not null)
            {
                totals.AddRow("checkpoint", Markup.Escape(device.Checkpoint));
            }
        }
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
        console.Write(stages);

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
