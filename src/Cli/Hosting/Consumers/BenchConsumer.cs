using StreamLoader.Batcher.Measurement;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Decoding;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>Bench: takes and discards batches (the pipeline's speed without a model), then times the tokenizer alone for the ceiling.</summary>
internal sealed class BenchConsumer : IRunConsumer
{
    private readonly bool _measureCeiling;
    private TokenizerCeilingResult? _ceiling;
    private SerialStageTime? _serialStage;

    public BenchConsumer(bool measureCeiling)
    {
        _measureCeiling = measureCeiling;
    }

    public string Command => "bench";

    public void AddStages(PipelineRun run)
    {
        IBatchReader input = run.Reader!;
        long? limit = run.Settings.MaxSteps;
        run.ConsumerStage = run.Pipeline.AddStage("sink", async stage =>
        {
            long seen = 0;
            await foreach (TensorBatch batch in input.ReadCountedAsync(stage).ConfigureAwait(false))
            {
                batch.Dispose();
                if (++seen == limit)
                {
                    stage.StopPipeline();
                    break;
                }
            }
        });
    }

    public async Task<Exception?> FinishAsync(PipelineRun run, Exception? error, CancellationToken cancellationToken)
    {
        if (error is null && _measureCeiling && run.Batcher is { Documents: > 0 } batcher && run.Tokenizer is not null)
        {
            ProviderRunSettings p = run.Settings.Provider;
            int workers = run.Settings.Batcher.Workers;
            run.Progress.Log($"bench: timing the tokenizer alone on the same {batcher.Documents:N0} documents (one thread, then {workers}) for the ceiling, the task's batch builder on their tokens, the provider alone, and the tokenizer beside a reading provider; --ceiling false skips this");
            // The provider alone decodes on its reading thread, so its time is the whole provider's CPU for those documents.
            SourceSettings oneThread = SerialStage.OneThread(p.Reading);
            Func<IBatchBuilder>? createBuilder = run.Context is { } context ? () => run.Task.CreateBatchBuilder(context) : null;
            _ceiling = await TokenizerCeiling.MeasureAsync(() => SourceFactory.Create(p.Sources, oneThread, p.Weights), run.Tokenizer, batcher.Documents, workers, maxChars: 256L << 20, cancellationToken, createBuilder).ConfigureAwait(false);
            // Then its serial stage alone, over the same records: what no number of decode threads takes off a reading
            // thread. A format that decodes on its reading thread is timed with that decode on one thread.
            if (_ceiling.ProviderRecords > 0)
            {
                (int interleave, int partsAtOnce) = (p.Interleave, p.Reading.Lines.PartsAtOnceCount);
                _serialStage = await SerialStage.TimeAsync(SourceFactory.Create(p.Sources, SerialStage.Only(p.Reading), p.Weights), _ceiling.ProviderRecords, interleave, partsAtOnce, whole: false, cancellationToken).ConfigureAwait(false);
                if (_serialStage.Decodes)
                {
                    _serialStage = await SerialStage.TimeAsync(SourceFactory.Create(p.Sources, SerialStage.OneThread(SerialStage.Only(p.Reading)), p.Weights), _ceiling.ProviderRecords, interleave, partsAtOnce, whole: true, cancellationToken).ConfigureAwait(false);
                }
            }
            if (_ceiling.BesideProviderFailure is { } why)
            {
                run.Progress.Log($"bench: the tokenizer was not timed beside a reading provider: {why}");
            }
            if (_ceiling.BuilderFailure is { } builderFailure)
            {
                run.Progress.Log($"bench: the batch builder was not timed: {builderFailure}");
            }
        }
        return null;
    }

    public RunSummary Describe(PipelineRun run, RunSummary summary)
    {
        if (_ceiling is not { } ceiling)
        {
            return summary;
        }
        // What limits the machine. The provider alone ran on one thread, so its tokens/s is also its tokens per
        // CPU-second; its serial stage (reading and framing, without the decode) is what its reading threads must keep
        // up: one for one file, one per part read together for a many-file source.
        double perThread = ceiling.SingleThreadTokensPerSecond;
        double provider = ceiling.ProviderTokensPerSecond;
        double serial = _serialStage is { Seconds: > 0 } stage ? ceiling.Tokens / stage.Seconds : provider;
        double? limit = perThread > 0 && provider > 0 ? Environment.ProcessorCount / ((1 / perThread) + (1 / provider)) : null;
        // The same with the task's batch building, the third kind of CPU every token costs: what a pipeline whose
        // hand-offs between threads cost nothing could reach.
        double? withBatching = limit is not null && ceiling.BuilderTokensPerSecond is double builder
            ? Environment.ProcessorCount / ((1 / perThread) + (1 / provider) + (1 / builder))
            : null;
        return Ceilings(run, summary, ceiling) with
        {
            ProviderSerialTokensPerSecond = serial > 0 ? serial : null,
            ProviderSerialSeconds = _serialStage?.Seconds,
            ProviderSerialReaders = _serialStage?.Readers,
            ProviderSerialOneAtATimeSeconds = _serialStage?.OneAtATimeSeconds,
            TokenizerThreadsFed = perThread > 0 && serial > 0 ? serial / perThread : null,
            CpuBoundLimitTokensPerSecond = limit,
            FractionOfCpuBoundLimit = limit is double l && summary.PipelineTokensPerSecond is double pipeline ? pipeline / l : null,
            BatchBuilderTokensPerSecond = ceiling.BuilderTokensPerSecond,
            CpuBoundLimitWithBatchingTokensPerSecond = withBatching,
            FractionOfCpuBoundLimitWithBatching = withBatching is double lb && summary.PipelineTokensPerSecond is double rate ? rate / lb : null,
        };
    }

    private static RunSummary Ceilings(PipelineRun run, RunSummary summary, TokenizerCeilingResult ceiling) => summary with
    {
        TokenizerSingleThreadTokensPerSecond = ceiling.SingleThreadTokensPerSecond,
        TokenizerCeilingTokensPerSecond = ceiling.AllThreadsTokensPerSecond,
        Efficiency = ceiling.AllThreadsTokensPerSecond > 0 && run.Resources is { PipelineSeconds: > 0 } r && run.Batcher is not null ? run.Batcher.Tokens / r.PipelineSeconds / ceiling.AllThreadsTokensPerSecond : null,
        CeilingDocuments = ceiling.Documents,
        ProviderAloneSeconds = ceiling.ProviderSeconds,
        ProviderTokensPerSecond = ceiling.ProviderTokensPerSecond,
        TokenizerBesideProviderTokensPerSecond = ceiling.BesideProviderTokensPerSecond,
    };
}
