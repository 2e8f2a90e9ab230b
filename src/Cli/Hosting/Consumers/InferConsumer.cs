using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Inference;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Results;
using StreamLoader.Results.Journal;
using StreamLoader.Results.Ordering;
using StreamLoader.Results.Parts;
using TorchSharp;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>
/// Inference: a trained classify or multilabel checkpoint predicts every document; the predictions go back into input
/// order behind the batcher's watermark and are committed in chunks, so a killed run relaunched with the same
/// <c>--output</c> continues after its last commit, and a finished one has nothing to do.
/// </summary>
internal sealed class InferConsumer : IRunConsumer
{
    private readonly InferRunSettings _infer;
    private OutputLayout? _layout;
    private ResultSchema? _schema;
    private string? _signature;
    private ChunkJournal? _journal;
    private WorkLock? _lock;
    private ResultLedger? _ledger;
    private ResultWriter? _writer;
    private Predictor? _predictor;
    private IPredictingModel? _model;
    private InferenceBatching? _batching;
    private CompletionMarker? _finished;
    private string _deviceName = "none";
    private long _resumedRows;
    private long _resumedDocuments;

    public InferConsumer(InferRunSettings infer)
    {
        _infer = infer;
    }

    public string Command => "infer";

    /// <summary>A rank dealt no window writes an empty part (the merge needs every rank's); one killed after its last commit only finishes.</summary>
    public bool EmptyShareIsDone => true;

    /// <summary>The tokens of the batches whose predictions were written (comparison batches are only timed).</summary>
    public long? Tokens => _predictor?.Written.Tokens;

    /// <summary>Set when the output was already finished by an earlier run with the same settings.</summary>
    public string? NothingToDo { get; private set; }

    public ProviderPlan PlanProvider(PipelineRun run)
    {
        RunSettings s = run.Settings;
        _batching = InferenceBatching.From(run.Context!);
        string[] labels = [.. _infer.Manifest.LabelNames ?? throw new InvalidDataException($"--checkpoint {_infer.Checkpoint}: the checkpoint has no label names; it is a {_infer.Manifest.Task} checkpoint, not a classify or multilabel one.")];
        _schema = new ResultSchema
        {
            KeepColumns = s.Provider.Reading.Columns.Keep,
            LabelNames = labels,
            MultiLabel = string.Equals(_infer.Manifest.Task, "multilabel", StringComparison.Ordinal),
            ModelHash = CompletionMarker.Hash(Path.Combine(_infer.Checkpoint, _infer.HuggingFaceFolder ? WeightsFileOf(_infer.Checkpoint) : TrainingState.ModelFile)).Sha256[..16],
            TokenizerHash = TokenizerHash(s.Batcher.Tokenizer, run),
        };
        _schema.Validate();
        foreach (string label in _infer.FilterBy)
        {
            if (!labels.Contains(label))
            {
                throw new ArgumentException($"--filter-by {label}: the model has no label '{label}'; its labels are {string.Join(", ", labels)}.");
            }
        }
        _layout = OutputLayout.For(_infer.Output, s.Provider.Rank.Rank, s.Provider.Rank.WorldSize);
        // Held until the run ends: a second run on this output (and rank) would write chunks into the same folder.
        _lock = WorkLock.Acquire(_layout.WorkFolder);
        _signature = Signature(run);
        if (CompletionMarker.Load(_layout.Final) is { } marker && File.Exists(_layout.Final))
        {
            if (marker.Settings != _signature || marker.Columns.Signature != _schema.Signature)
            {
                throw new Core.Diagnostics.SettingsConflictException($"{_layout.Final}: finished earlier by a run with other settings or another model ('{marker.Settings}'). Choose another --output, or remove it and its .done marker to run again.");
            }
            _finished = marker;
            if (Directory.Exists(_layout.WorkFolder))
            {
                // Left by a run stopped after its marker was written, before it removed the folder.
                Directory.Delete(_layout.WorkFolder, recursive: true);
            }
            NothingToDo = $"{_layout.Final} is already finished ({marker.Rows:N0} rows, {marker.CreatedUtc:u}); nothing to do. Remove it and its .done marker to run again.";
            return ProviderPlan.Default;
        }
        _journal = ChunkJournal.Open(_layout, _schema, _signature);
        _resumedRows = _journal.CommittedRows;
        _resumedDocuments = _journal.CommittedDocuments;
        if (_journal.Commits.Count > 0)
        {
            run.Progress.Log($"infer: continuing {_layout.WorkFolder}: {_journal.Commits.Count} chunks committed ({_resumedRows:N0} rows, {_resumedDocuments:N0} documents){(_journal.DiscardedFiles > 0 ? $"; {_journal.DiscardedFiles} uncommitted file(s) discarded" : string.Empty)}");
        }
        ProviderPosition? resume = _journal.ResumePosition is { } json ? ProviderPosition.FromJson(json, Path.Combine(_layout.WorkFolder, "journal.jsonl")) : null;
        return new ProviderPlan(resume, _batching.Window, _schema.KeepColumns);
    }

    public void AddStages(PipelineRun run)
    {
        if (NothingToDo is not null)
        {
            return;
        }
        RunSettings s = run.Settings;
        IDeviceTask trained = TaskPlugins.Devices.TryGet(_infer.Manifest.Task, out IDeviceTask found)
            ? found
            : throw new InvalidDataException($"--checkpoint {_infer.Checkpoint}: its task '{_infer.Manifest.Task}' has no model to run.");
        torch.Device device = DeviceModels.Select(s.Device);
        _deviceName = device.ToString();
        ITaskModel model = DeviceModels.Build(run, trained, device, _infer.TrainedSequenceLength, new LabelSet(_schema!.LabelNames), s.Device.Pretrained, weightsFromCheckpoint: !_infer.HuggingFaceFolder);
        if (model is not IPredictingModel predicting)
        {
            model.Dispose();
            throw new InvalidDataException($"--checkpoint {_infer.Checkpoint}: the {_infer.Manifest.Task} model cannot predict (it does not implement IPredictingModel).");
        }
        _model = predicting;
        if (_infer.HuggingFaceFolder)
        {
            // The folder's own weights, head included, were loaded as the model was built; a head made afresh would predict noise.
            if (model is PretrainedClassifier { NewHead: true } fresh)
            {
                throw new InvalidDataException($"--checkpoint {_infer.Checkpoint}: {fresh.Description}; infer needs a trained classification head whose labels are the folder's id2label.");
            }
        }
        else
        {
            try
            {
                model.Module.load(Path.Combine(_infer.Checkpoint, TrainingState.ModelFile));
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException)
            {
                throw new InvalidDataException($"--checkpoint {_infer.Checkpoint}: its weights do not fit the {_infer.Manifest.Task} model built from its settings ({ex.Message}).", ex);
            }
        }
        DeviceModels.Describe(run, _deviceName, model);
        run.Progress.Log($"infer: {_infer.Manifest.Task} model ({_schema.LabelNames.Count} labels, hash {_schema.ModelHash}) -> {_layout!.Final}; {_batching!.Layout} batches{(_batching.Layout == InferenceBatching.Sorted ? $" of up to {_batching.MaxTokensPerBatch:N0} tokens" : $" of {_batching.BatchSize} rows")}, windows of {_batching.Window:N0} documents{(_infer.FilterBy.Count > 0 ? $", keeping {string.Join(", ", _infer.FilterBy)}" : string.Empty)}");

        var predictor = new Predictor(predicting, device) { Threads = TorchThreads.Of(s.Device.TorchThreads) };
        _predictor = predictor;
        _ledger = new ResultLedger(run.Documents!, _schema, s.Provider.Description, run.SequenceLength - 2, MultiLabelOptions.Threshold.Read(s.Batcher.TaskSettings));
        _writer = new ResultWriter(_ledger, _journal!, _schema, new ResultWriterOptions { FilterBy = _infer.FilterBy, ChunkDocuments = _infer.ChunkDocuments, CommitInterval = _infer.CommitInterval }, ordinal => run.Positions!.PositionAt(ordinal).ToJson());
        PipelineChannel<PredictionBatch> predictions = run.Pipeline.CreateChannel<PredictionBatch>("predictions", s.Transport.Queue);
        IBatchReader input = run.Reader!;
        run.ConsumerStage = run.Pipeline.AddStage("device", stage => predictor.RunAsync(stage, input, stage.Writer(predictions)));
        ResultWriter writer = _writer;
        string signature = _signature!;
        run.Pipeline.AddStage("writer", async stage =>
        {
            await writer.RunAsync(stage.Reader(predictions).ReadAllAsync(), signature, stage.CancellationToken).ConfigureAwait(false);
            _finished = writer.Marker;
        });
    }

    public ProgressSample Sample(ProgressSample sample) => sample with { Rows = _writer?.Documents };

    /// <summary>The file whose hash names a Hugging Face folder's weights: its model.safetensors, or the index of its shards.</summary>
    private static string WeightsFileOf(string folder) =>
        File.Exists(Path.Combine(folder, HuggingFaceWeights.SingleFile)) ? HuggingFaceWeights.SingleFile : HuggingFaceWeights.IndexFile;

    public Task<Exception?> FinishAsync(PipelineRun run, Exception? error, CancellationToken cancellationToken)
    {
        if (error is not null && _journal is { Commits.Count: 0 } && _layout is not null && Directory.Exists(_layout.WorkFolder))
        {
            // Nothing was committed: the work folder holds nothing a relaunch could continue from.
            Directory.Delete(_layout.WorkFolder, recursive: true);
        }
        return Task.FromResult<Exception?>(null);
    }

    public RunSummary Describe(PipelineRun run, RunSummary summary)
    {
        RunSettings s = run.Settings;
        LayoutTiming? written = _predictor?.Written;
        ComparisonReport? comparison = null;
        if (_predictor is { Compared.Documents: > 0 } p)
        {
            bool sorted = _batching!.Layout == InferenceBatching.Sorted;
            LayoutTiming sortedTiming = sorted ? p.WrittenCompared : p.Compared;
            LayoutTiming fixedTiming = sorted ? p.Compared : p.WrittenCompared;
            comparison = new ComparisonReport(
                p.Compared.Documents,
                Timing(InferenceBatching.Sorted, sortedTiming),
                Timing(InferenceBatching.Fixed, fixedTiming),
                sortedTiming.Seconds > 0 ? fixedTiming.Seconds / sortedTiming.Seconds : null,
                p.ComparisonDisagreements);
        }
        var report = new InferenceReport(
            _layout?.Final ?? _infer.Output,
            _layout?.Format.Name ?? "?",
            _infer.Checkpoint,
            _infer.Manifest.Task,
            _schema?.ModelHash ?? string.Empty,
            _schema?.TokenizerHash ?? string.Empty,
            _deviceName,
            _writer?.Documents ?? 0,
            _writer?.Rows ?? 0,
            _finished?.Rows,
            _finished?.Documents,
            _writer?.FilteredOut ?? 0,
            _writer?.Empty ?? 0,
            _writer?.Truncated ?? 0,
            _writer?.LabelCounts ?? new Dictionary<string, long>(),
            _writer?.Chunks ?? 0,
            _resumedRows,
            _resumedDocuments,
            _journal?.DiscardedFiles ?? 0,
            NothingToDo is not null,
            _batching?.Layout ?? InferenceBatching.Sorted,
            _batching?.Window ?? 0,
            _batching?.MaxTokensPerBatch ?? 0,
            s.Batcher.BatchSize,
            written is null ? null : Timing(_batching!.Layout, written),
            comparison,
            _predictor?.MemoryRetries ?? 0,
            _predictor?.RowLimit,
            _finished is null ? null : OutputLayout.MarkerFor(_layout!.Final));
        return summary with { Inference = report };
    }

    private static LayoutReport Timing(string layout, LayoutTiming timing) =>
        new(layout, timing.Documents, timing.Batches, timing.Seconds, timing.DocumentsPerSecond, timing.PaddingFraction);

    /// <summary>Every setting that decides the rows: the source, the columns, the filter, the threshold, the batching and the world size.</summary>
    private string Signature(PipelineRun run)
    {
        RunSettings s = run.Settings;
        ProviderRunSettings p = s.Provider;
        string fingerprint = SourceFactory.Create(p.Sources, p.Reading, p.Weights).Fingerprint;
        return string.Create(CultureInfo.InvariantCulture,
            $"source={fingerprint}|filter={string.Join(',', _infer.FilterBy.Order(StringComparer.Ordinal))}|threshold={MultiLabelOptions.Threshold.Read(s.Batcher.TaskSettings):R}|batching={_batching!.Layout}|window={_batching.Window}|max_tokens={_batching.MaxTokensPerBatch}|batch={_batching.BatchSize}|seq={run.SequenceLength}|world={p.Rank.WorldSize}");
    }

    /// <summary>The tokenizer's identity, vocabulary size and the bytes of its files, hashed.</summary>
    private static string TokenizerHash(Batcher.Tokenizers.TokenizerSettings settings, PipelineRun run)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{run.Vocabulary.Tokenizer}|{run.Vocabulary.Size}|lower={settings.LowerCase}"));
        foreach (string? file in new[] { settings.VocabularyPath, settings.MergesPath })
        {
            if (file is not null && File.Exists(file))
            {
                hash.AppendData(File.ReadAllBytes(file));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    public ValueTask DisposeAsync()
    {
        _model?.Dispose();
        _lock?.Dispose();
        return ValueTask.CompletedTask;
    }
}
