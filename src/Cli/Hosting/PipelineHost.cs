using System.Diagnostics;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Hosting.Consumers;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Evaluation;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Transport;
using StreamLoader.Transport.Catalog;
using StreamLoader.Transport.InProcess;
using TorchSharp;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// Prepares a run (the task, the tokenizer, the vocabulary, the labels, the batcher's context), picks the consumer for
/// its kind from the command and the task's mode, and hands both to a <see cref="PipelineRun"/> that wires the
/// services, runs them and reports.
/// </summary>
public sealed class PipelineHost
{
    private readonly RunSettings _settings;
    private readonly HostMode _mode;
    private readonly IProgressView _progress;
    private readonly TextWriter _output;

    public PipelineHost(RunSettings settings, HostMode mode, IProgressView progress, TextWriter output)
    {
        _settings = settings;
        _mode = mode;
        _progress = progress;
        _output = output;
    }

    /// <summary>The task plugins: those shipped in <c>tasks/</c> and those loaded with <c>--plugin</c>.</summary>
    public static TaskCatalog Catalog => TaskPlugins.Catalog;

    /// <summary>Inspect: batches to render.</summary>
    public int InspectBatches { get; init; } = 2;

    /// <summary>Inspect: rows per batch to render.</summary>
    public int InspectRows { get; init; } = 4;

    /// <summary>inspect: one JSON object per batch instead of text (<c>--output-format json</c>).</summary>
    public bool InspectJson { get; init; }

    /// <summary>Bench: after the run, time the raw tokenizer on the same documents (one thread and all) and report the pipeline's efficiency against it.</summary>
    public bool MeasureCeiling { get; init; }

    /// <summary>Runs to completion. Returns the summary and, for a failed or cancelled run, the error (the caller reports it).</summary>
    public async Task<(RunSummary Summary, Exception? Error)> RunAsync(CancellationToken cancellationToken)
    {
        bool loader = _settings.Transport.Role != RunRole.Device;
        bool device = _settings.Transport.Role != RunRole.Loader;
        TensorBatch? first = null;
        IBatchReader? reader = null;
        string taskName = _settings.Task;
        VocabularyInfo? fromFrames = null;
        int sequenceLength = _settings.Batcher.SequenceLength;
        try
        {
            if (!loader)
            {
                // A device reads what the frames say: the task, the vocabulary and the shape come from the first batch.
                IBatchReader opened = await TransportCatalog.Default.OpenReaderAsync(_settings.Transport.In, new TransportEndOptions(_settings.Transport.Queue, _settings.Transport.ZeroMq), cancellationToken).ConfigureAwait(false);
                // PeekAsync disposes the reader when it fails; from here on the peeked reader is ours.
                (first, reader) = await PeekedBatchReader.PeekAsync(opened, cancellationToken).ConfigureAwait(false);
                if (first is null)
                {
                    throw new InvalidDataException($"{_settings.Transport.In}: the stream ended before its first batch; the loader sent nothing to train on.");
                }
                (taskName, fromFrames, sequenceLength) = FrameDescription.Check(first, _settings, _settings.Transport.In);
            }

            ITrainingTask task = Catalog.Get(taskName);
            _settings.Batcher.TaskSettings.ValidateAgainst(task);
            ITextTokenizer? tokenizer = loader || _mode == HostMode.Inspect || _settings.Batcher.TokenizerGiven
                ? AddedTokensTokenizer.Wrap(TokenizerCatalog.Default.Create(_settings.Batcher.Tokenizer), task.AddedSpecialTokens)
                : null;
            VocabularyInfo vocabulary = fromFrames ?? VocabularyInfo.From(tokenizer!);
            if (fromFrames is not null && tokenizer is not null && fromFrames.Differences(VocabularyInfo.From(tokenizer)) is { Count: > 0 } differences)
            {
                bool given = _mode != HostMode.Inspect && _settings.Batcher.TokenizerGiven;
                throw new SettingsConflictException(given
                    ? $"{_settings.Transport.In}: the frames were made with another tokenizer than --vocab/--tokenizer give (frames vs given: {string.Join("; ", differences)}). Leave --vocab out to take the frames' vocabulary."
                    : $"{_settings.Transport.In}: the frames were made with {fromFrames.Tokenizer} ({fromFrames.Size:N0} ids); pass that tokenizer's --vocab (and --tokenizer) to decode them.");
            }
            CheckResumedTokenizer(vocabulary);

            LabelSet? labels = task.Labels == LabelKind.None ? null : await ResolveLabelsAsync(task, first, cancellationToken).ConfigureAwait(false);
            BatchingContext? context = null;
            if (loader)
            {
                context = new BatchingContext(tokenizer!, sequenceLength, _settings.Batcher.BatchSize, _settings.Seed, _settings.Batcher.TaskSettings)
                {
                    FirstBatchSequence = _settings.ResumeManifest?.NextBatchSequence ?? 0,
                    Labels = labels,
                    HeldOut = task.Labels == LabelKind.None || _mode != HostMode.Train ? HeldOutSplit.None : HeldOutSplit.Parse(_settings.Batcher.EvalSplit, _settings.Seed),
                };
                // Fail on bad task settings now, before any stage starts.
                _ = task.CreateBatchBuilder(context);
            }

            IRunConsumer? consumer = device ? CreateConsumer(task) : null;
            await using var run = new PipelineRun(_settings, task, tokenizer, vocabulary, sequenceLength, context, reader, consumer, _progress, _output) { Labels = labels };
            reader = null; // the run owns it now
            if (loader)
            {
                run.AddProvider(consumer?.PlanProvider(run) ?? ProviderPlan.Default);
            }
            await run.OpenTransportAsync(cancellationToken).ConfigureAwait(false);
            if (loader)
            {
                run.AddBatcher();
            }
            consumer?.AddStages(run);
            return await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (reader is not null)
            {
                await reader.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The consumer for this kind of run: from the command (bench, inspect), else from the task's mode (train or infer).</summary>
    private IRunConsumer CreateConsumer(ITrainingTask task) => _mode switch
    {
        HostMode.Bench => new BenchConsumer(MeasureCeiling),
        HostMode.Inspect => new InspectConsumer(InspectBatches, InspectRows, InspectJson),
        _ when task.Mode == TaskMode.Infer || _mode == HostMode.Infer => new InferConsumer(_settings.Infer ?? throw new ArgumentException($"Task '{task.Name}' runs a trained model over a corpus: use 'streamloader infer --checkpoint DIR --output FILE' (it runs every service in one process).")),
        _ => new TrainConsumer(),
    };

    /// <summary>A classifier's label names: from the frames (device role), <c>--labels</c>, the resumed checkpoint, or a pass over the source.</summary>
    private async Task<LabelSet> ResolveLabelsAsync(ITrainingTask task, TensorBatch? first, CancellationToken cancellationToken)
    {
        LabelSet? labels = null;
        string origin;
        if (first is not null && first.Metadata.TryGetValue(BatchMetadataKeys.LabelNames, out string? fromFrames))
        {
            labels = LabelSet.FromMetadata(fromFrames);
            origin = "the frames";
        }
        else if (_settings.Batcher.Labels is { } given)
        {
            labels = LabelSet.Parse(given);
            origin = File.Exists(given) ? given : "--labels";
        }
        else if (_settings.ResumeManifest?.LabelNames is { Count: > 0 } saved)
        {
            labels = new LabelSet(saved);
            origin = "the checkpoint";
        }
        else if (first is null)
        {
            _progress.Log($"{task.Name}: no --labels given; reading the source once to find its labels ...");
            (labels, long documents, double seconds) = await LabelDiscovery.ScanAsync(SourceFactory.Create(_settings.Provider.Sources, _settings.Provider.Reading, _settings.Provider.Weights), cancellationToken).ConfigureAwait(false);
            origin = $"a pass over {documents:N0} documents ({seconds:0.0} s)";
        }
        else
        {
            origin = "nowhere";
        }
        if (labels is null)
        {
            throw new InvalidDataException($"{task.Name}: no labels: {(first is null ? $"no document of {_settings.Provider.Description} carries one" : "the frames carry no label names")}. Name the label column with --label-column, and the names with --labels FILE if the column holds ids.");
        }
        if (_settings.ResumeManifest?.LabelNames is { Count: > 0 } checkpoint && !checkpoint.SequenceEqual(labels.Names))
        {
            throw new SettingsConflictException($"--resume {_settings.ResumeFolder}: the checkpoint was trained on {checkpoint.Count} labels ({string.Join(", ", checkpoint.Take(4))}, …), this run has {labels.Count} from {origin}.");
        }
        _progress.Log($"{task.Name}: {LabelDiscovery.Describe(labels)} (from {origin})");
        return labels;
    }

    private void CheckResumedTokenizer(VocabularyInfo vocabulary)
    {
        if (_settings.ResumeManifest is { } manifest && (manifest.Tokenizer != vocabulary.Tokenizer || manifest.VocabularySize != vocabulary.Size))
        {
            throw new SettingsConflictException($"--resume {_settings.ResumeFolder}: the checkpoint was trained with {manifest.Tokenizer} ({manifest.VocabularySize:N0} ids), this run tokenizes with {vocabulary.Tokenizer} ({vocabulary.Size:N0} ids).");
        }
    }
}
