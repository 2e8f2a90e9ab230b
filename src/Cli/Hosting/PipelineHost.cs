using System.Diagnostics;
using StreamLoader.Batcher;
using StreamLoader.Batcher.Measurement;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Commands;
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
using StreamLoader.Transport.InProcess;
using TorchSharp;

namespace StreamLoader.Cli.Hosting;

/// <summary>What the device end of the pipeline does.</summary>
public enum HostMode
{
    /// <summary>Train the task's model.</summary>
    Train,

    /// <summary>Consume and discard batches: the pipeline's speed without a model.</summary>
    Bench,

    /// <summary>Decode the first batches back to text.</summary>
    Inspect,
}

/// <summary>Wires the services for a run (provider, batcher, transport, device), runs them and reports.</summary>
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

    /// <summary>Bench: after the run, time the raw tokenizer on the same documents (one thread and all) and report the pipeline's efficiency against it.</summary>
    public bool MeasureCeiling { get; init; }

    /// <summary>Runs to completion. Returns the summary and, for a failed or cancelled run, the error (the caller reports it).</summary>
    public async Task<(RunSummary Summary, Exception? Error)> RunAsync(CancellationToken cancellationToken)
    {
        bool loader = _settings.Role != RunRole.Device;
        bool device = _settings.Role != RunRole.Loader;
        TensorBatch? first = null;
        IBatchReader? reader = null;
        string taskName = _settings.Task;
        VocabularyInfo? fromFrames = null;
        int sequenceLength = _settings.SequenceLength;
        try
        {
            if (!loader)
            {
                // A device reads what the frames say: the task, the vocabulary and the shape come from the first batch.
                IBatchReader opened = await TransportFactory.OpenReaderAsync(_settings.In, window: _settings.Queue, cancellationToken: cancellationToken).ConfigureAwait(false);
                // PeekAsync disposes the reader when it fails; from here on the peeked reader is ours.
                (first, reader) = await PeekedBatchReader.PeekAsync(opened, cancellationToken).ConfigureAwait(false);
                if (first is null)
                {
                    throw new InvalidDataException($"{_settings.In}: the stream ended before its first batch; the loader sent nothing to train on.");
                }
                (taskName, fromFrames, sequenceLength) = FrameDescription.Check(first, _settings, _settings.In);
            }

            ITrainingTask task = Catalog.Get(taskName);
            _settings.TaskSettings.ValidateAgainst(task);
            ITextTokenizer? tokenizer = loader || _mode == HostMode.Inspect || _settings.Given.Contains(CliOptions.Vocab.Name) || _settings.Given.Contains(CliOptions.Tokenizer.Name)
                ? AddedTokensTokenizer.Wrap(TokenizerFactory.Create(_settings.Tokenizer), task.AddedSpecialTokens)
                : null;
            VocabularyInfo vocabulary = fromFrames ?? VocabularyInfo.From(tokenizer!);
            if (fromFrames is not null && tokenizer is not null && fromFrames.Differences(VocabularyInfo.From(tokenizer)) is { Count: > 0 } differences)
            {
                bool given = _mode != HostMode.Inspect && (_settings.Given.Contains(CliOptions.Vocab.Name) || _settings.Given.Contains(CliOptions.Tokenizer.Name));
                throw new SettingsConflictException(given
                    ? $"{_settings.In}: the frames were made with another tokenizer than --vocab/--tokenizer give (frames vs given: {string.Join("; ", differences)}). Leave --vocab out to take the frames' vocabulary."
                    : $"{_settings.In}: the frames were made with {fromFrames.Tokenizer} ({fromFrames.Size:N0} ids); pass that tokenizer's --vocab (and --tokenizer) to decode them.");
            }
            CheckResumedTokenizer(vocabulary);

            LabelSet? labels = task.Labels == LabelKind.None ? null : await ResolveLabelsAsync(task, first, cancellationToken).ConfigureAwait(false);
            BatchingContext? context = null;
            if (loader)
            {
                context = new BatchingContext(tokenizer!, sequenceLength, _settings.BatchSize, _settings.Seed, _settings.TaskSettings)
                {
                    FirstBatchSequence = _settings.ResumeManifest?.NextBatchSequence ?? 0,
                    Labels = labels,
                    HeldOut = task.Labels == LabelKind.None || _mode != HostMode.Train ? HeldOutSplit.None : _settings.EvalSplit,
                };
                // Fail on bad task settings now, before any stage starts.
                _ = task.CreateBatchBuilder(context);
            }

            await using var run = new Run(this, task, tokenizer, vocabulary, sequenceLength, context, reader) { Labels = labels };
            reader = null; // the run owns it now
            if (loader)
            {
                run.AddProvider();
            }
            await run.OpenTransportAsync(cancellationToken).ConfigureAwait(false);
            if (loader)
            {
                run.AddBatcher();
            }
            if (device)
            {
                switch (_mode)
                {
                    case HostMode.Train:
                        run.AddTrainer();
                        break;
                    case HostMode.Bench:
                        run.AddBenchSink();
                        break;
                    case HostMode.Inspect:
                        run.AddInspector();
                        break;
                }
            }
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
        else if (_settings.Labels is { } given)
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
            (labels, long documents, double seconds) = await LabelDiscovery.ScanAsync(SourceFactory.Create(_settings.Sources, _settings.SourceSettings, _settings.Weights), cancellationToken).ConfigureAwait(false);
            origin = $"a pass over {documents:N0} documents ({seconds:0.0} s)";
        }
        else
        {
            origin = "nowhere";
        }
        if (labels is null)
        {
            throw new InvalidDataException($"{task.Name}: no labels: {(first is null ? $"no document of {_settings.Source} carries one" : "the frames carry no label names")}. Name the label column with --label-column, and the names with --labels FILE if the column holds ids.");
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

    /// <summary>One run's services and their state, from wiring to the summary.</summary>
    private sealed class Run : IAsyncDisposable
    {
        private readonly PipelineHost _host;
        private readonly RunSettings _s;
        private readonly ITrainingTask _task;
        private readonly ITextTokenizer? _tokenizer;
        private readonly VocabularyInfo _vocabulary;
        private readonly int _sequenceLength;
        private readonly BatchingContext? _context;
        private readonly Pipeline _pipeline = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private IDocumentSource? _source;
        private DocumentStream? _stream;
        private PipelineChannel<Document>? _documents;
        private BatcherService? _batcher;
        private IBatchWriter? _writer;
        private IBatchReader? _reader;
        private ITaskModel? _model;
        private Trainer? _trainer;
        private StageCounters? _providerCounters;
        private StageCounters? _batcherCounters;
        private StageCounters? _consumer;
        private string _deviceName = "none";
        private string? _claimedFolder;
        private ResourceReport? _resources;
        private ProviderPosition? _resume;
        private TokenizerCeilingResult? _ceiling;
        private string? _checkpointTarget;

        /// <summary>A classifier's label names; null for other tasks.</summary>
        public LabelSet? Labels { get; init; }

        public Run(PipelineHost host, ITrainingTask task, ITextTokenizer? tokenizer, VocabularyInfo vocabulary, int sequenceLength, BatchingContext? context, IBatchReader? reader)
        {
            _host = host;
            _s = host._settings;
            _task = task;
            _tokenizer = tokenizer;
            _vocabulary = vocabulary;
            _sequenceLength = sequenceLength;
            _context = context;
            _reader = reader;
        }

        private string TokenizerName => _tokenizer?.Name ?? _vocabulary.Tokenizer;

        private IProgressView Progress => _host._progress;

        private string ModeName => _host._mode.ToString().ToLowerInvariant();

        public void AddProvider()
        {
            _source = SourceFactory.Create(_s.Sources, _s.SourceSettings, _s.Weights);
            var stream = new DocumentStream(_source, new DocumentStreamOptions { Rank = _s.Rank, Seed = _s.Seed, ShuffleBuffer = _s.ShuffleBuffer, Epochs = _s.Epochs });
            ProviderPosition? resume = null;
            if (_s.ResumeFolder is { } folder)
            {
                if (_s.ResumeManifest is not { HasPosition: true })
                {
                    throw new SettingsConflictException($"--resume {folder}: the checkpoint has no stream position (a device-role run writes none), so the data cannot continue from it.");
                }
                resume = ProviderPosition.Load(Path.Combine(folder, CheckpointManifest.PositionFileName));
            }
            _resume = resume;
            PipelineChannel<Document> documents = _pipeline.CreateChannel<Document>("documents", _s.Queue * 64);
            _stream = stream;
            _documents = documents;
            _providerCounters = _pipeline.AddStage("provider", async stage =>
            {
                StageWriter<Document> output = stage.Writer(documents);
                await foreach (Document document in stream.ReadAsync(resume, stage.CancellationToken).ConfigureAwait(false))
                {
                    await output.WriteAsync(document, (long)document.Length * sizeof(char)).ConfigureAwait(false);
                }
            });
        }

        public async Task OpenTransportAsync(CancellationToken cancellationToken)
        {
            switch (_s.Role)
            {
                case RunRole.All:
                    (_writer, _reader) = InProcessTransport.Create(_s.Queue);
                    break;
                case RunRole.Loader:
                    if (_s.Out.StartsWith("unix:", StringComparison.Ordinal))
                    {
                        Progress.Log($"loader: waiting for the reader to connect to {_s.Out} ...");
                    }
                    // No device stage here: the batcher writes straight into the transport, so its downstream
                    // wait is the transport's (and the remote consumer's) back-pressure.
                    _writer = await TransportFactory.OpenWriterAsync(_s.Out, cancellationToken).ConfigureAwait(false);
                    break;
                case RunRole.Device:
                    // Opened, and its first batch read, before the run was wired.
                    break;
            }
        }

        public void AddBatcher()
        {
            var batcher = new BatcherService(_task, _context!, _s.Workers)
            {
                // The loader's --max-steps counts batches; in one process the device counts steps and stops the run.
                MaxBatches = _s.Role == RunRole.Loader ? _s.MaxSteps : null,
                // The provider's resumed stream starts at this document; the batcher drops its tokens already trained on.
                ResumeOrdinal = _resume?.EmittedTotal ?? -1,
                ResumeOffset = (int)(_s.ResumeManifest?.ResumeOffset ?? 0),
            };
            PipelineChannel<Document> documents = _documents!;
            IBatchWriter output = _writer!;
            _batcher = batcher;
            _batcherCounters = _pipeline.AddStage("batcher", stage => batcher.RunAsync(stage, documents, output));
        }

        public void AddTrainer()
        {
            if (_task is not IDeviceTask deviceTask)
            {
                throw new InvalidOperationException($"Task '{_task.Name}' has no device side (it does not implement IDeviceTask), so it cannot train.");
            }
            TorchRuntime.EnsureLoaded();
            if (_s.TorchThreads > 0)
            {
                torch.set_num_threads(_s.TorchThreads);
            }
            torch.Device device = TorchRuntime.SelectDevice(_s.Device);
            _deviceName = device.ToString();
            // The host seeds the generator and moves the model, so every task's model starts alike from --seed.
            ITaskModel model = new ModelContext(_vocabulary, _sequenceLength, _s.ModelSize, device, _s.Seed, _s.TaskSettings) { Labels = Labels }.Build(deviceTask);
            _model = model;
            if (_s.Checkpoint is { } checkpoint)
            {
                _checkpointTarget = _s.CheckpointUnderRuns
                    ? CheckpointManifest.ClaimRunFolder(checkpoint, DateTimeOffset.UtcNow, RankSuffix)
                    : checkpoint;
                _claimedFolder = CheckpointManifest.StagingFor(_checkpointTarget);
            }
            string? resumeFrom = _s.ResumeFolder is { } folder && TrainingState.ExistsIn(folder) ? folder : null;
            var options = new TrainerOptions
            {
                MaxSteps = _s.MaxSteps,
                ScheduleSteps = _s.ScheduleSteps,
                LearningRate = _s.LearningRate,
                WarmupSteps = _s.Warmup,
                ClipNorm = _s.Clip,
                LogEvery = _s.LogEvery,
                EvalEvery = _s.EvalEvery,
                InitFrom = _s.InitFrom is { } init ? CheckpointManifest.Resolve(init) : null,
                CheckpointFolder = _claimedFolder,
                ResumeFrom = resumeFrom,
            };
            Trainer trainer;
            try
            {
                trainer = new Trainer(model, options, device)
                {
                    OnLog = r => Progress.Log($"step {r.Step,6}  loss {r.Loss:0.0000}  lr {r.LearningRate:0.00e+0}  {r.StepSeconds * 1000:0} ms/step"),
                    OnEvaluate = e => Progress.Log($"eval  {e.Step,6}  held-out rows {e.Scores.Rows:N0}  accuracy {e.Scores.Accuracy:0.000}  micro-F1 {e.Scores.MicroF1:0.000}  macro-F1 {e.Scores.MacroF1:0.000}"),
                };
            }
            catch
            {
                // A checkpoint that cannot be loaded: leave no empty run folder behind.
                ReleaseClaim();
                throw;
            }
            _trainer = trainer;
            if (TorchRuntime.CudaProblem is { } problem)
            {
                Progress.Log("note: CUDA is visible but could not be used, so training runs on the CPU: " + problem);
            }
            Progress.Log($"device: {_deviceName} ({TorchRuntime.LoadedFrom}), model {_s.ModelSize}, vocab {_vocabulary.Size:N0}, seq {_sequenceLength}, {CountParameters(model):N0} parameters");
            if (resumeFrom is not null)
            {
                Progress.Log($"resumed from {resumeFrom}: step {trainer.Steps:N0}, next batch {trainer.NextBatchSequence:N0}");
            }
            else if (trainer.InitializedParameters is (int loaded, int total))
            {
                Progress.Log($"initialised {loaded} of {total} parameter tensors from {options.InitFrom}; the rest start fresh");
            }
            if (_context is { HeldOut.Enabled: true } context)
            {
                Progress.Log($"held out for evaluation: {context.HeldOut.Description}; evaluated every {_s.EvalEvery} steps and at the end, beside a majority-class and a bag-of-words baseline");
            }
            IBatchReader input = _reader!;
            _consumer = _pipeline.AddStage("device", stage => trainer.RunAsync(stage, input));
        }

        public void AddBenchSink()
        {
            IBatchReader input = _reader!;
            long? limit = _s.MaxSteps;
            _consumer = _pipeline.AddStage("sink", async stage =>
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

        public void AddInspector()
        {
            IBatchReader input = _reader!;
            TextWriter output = _host._output;
            int batches = _host.InspectBatches;
            int rows = _host.InspectRows;
            _consumer = _pipeline.AddStage("inspect", async stage =>
            {
                int shown = 0;
                await foreach (TensorBatch batch in input.ReadCountedAsync(stage).ConfigureAwait(false))
                {
                    using (batch)
                    {
                        _task.Render(batch, _tokenizer!, output, rows);
                        output.WriteLine();
                    }
                    if (++shown >= batches)
                    {
                        stage.StopPipeline();
                        break;
                    }
                }
            });
        }

        public async Task<(RunSummary Summary, Exception? Error)> ExecuteAsync(CancellationToken cancellationToken)
        {
            foreach (string note in _s.Notes)
            {
                Progress.Log("note: " + note);
            }
            Progress.Log(_source is not null
                ? $"{_task.Name}: {_source.Description} -> {TokenizerName} (workers {_s.Workers}) -> {_writer!.Description} -> {(_consumer is not null ? ModeName : _s.Out)}"
                : $"{_task.Name}: frames from {_reader!.Description} ({_vocabulary.Tokenizer}, seq {_sequenceLength}) -> {ModeName}");
            Progress.Start(Sample);

            Exception? error = null;
            bool readerClosed = false;
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            TimeSpan pausedBefore = GC.GetTotalPauseDuration();
            long pipelineStart = Stopwatch.GetTimestamp();
            try
            {
                await _pipeline.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PipelineStageException ex) when (_s.Role == RunRole.Loader && ex.InnerException is ReaderClosedException closed)
            {
                // The consumer took what it needed and exited: not a failure of the loader.
                Progress.Log("note: " + closed.Message);
                readerClosed = true;
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                _resources = new ResourceReport(
                    Stopwatch.GetElapsedTime(pipelineStart).TotalSeconds,
                    GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore,
                    (GC.GetTotalPauseDuration() - pausedBefore).TotalSeconds,
                    Process.GetCurrentProcess().PeakWorkingSet64);
                await Progress.DisposeAsync().ConfigureAwait(false);
            }

            if (error is null && !readerClosed && !_pipeline.StoppedEarly && NoDocuments() is { } empty)
            {
                error = empty;
            }
            string? checkpoint = null;
            try
            {
                checkpoint = FinishCheckpoint();
            }
            catch (CheckpointWriteException ex)
            {
                error ??= ex;
            }
            if (error is null && _host.MeasureCeiling && _batcher is { Documents: > 0 } batcher && _tokenizer is not null)
            {
                Progress.Log($"bench: timing the tokenizer alone on the same {batcher.Documents:N0} documents (one thread, then {_s.Workers}) for the ceiling; --ceiling false skips this");
                _ceiling = await TokenizerCeiling.MeasureAsync(SourceFactory.Create(_s.Sources, _s.SourceSettings, _s.Weights), _tokenizer, batcher.Documents, _s.Workers, maxChars: 256L << 20, cancellationToken).ConfigureAwait(false);
            }
            bool cancelled = error is OperationCanceledException;
            string outcome = readerClosed ? "reader_closed"
                : error is null ? (_pipeline.StoppedEarly ? "stopped_at_limit" : "completed")
                : cancelled ? "cancelled" : "failed";
            return (Summarize(outcome, cancelled ? null : error, checkpoint), error);
        }

        /// <summary>Zero documents is an input error: it says what was read and skipped, so the cause can be seen.</summary>
        private InvalidDataException? NoDocuments()
        {
            if (_source is null || _stream is null || (_providerCounters?.ItemsOut ?? 0) > 0)
            {
                return null;
            }
            SourceStatistics stats = _source.Statistics;
            string skipped = stats.Skipped == 0 ? "none skipped" : "skipped " + string.Join(", ", stats.SkippedByReason.Select(p => $"{p.Key} {p.Value:N0}"));
            string why = _stream.ResumeSkipped > 0 ? $"; all {_stream.ResumeSkipped:N0} documents of this rank were consumed before the resume point"
                : _stream.OtherRanks > 0 ? $"; {_stream.OtherRanks:N0} documents went to the other ranks of {_s.Rank.WorldSize}"
                : string.Empty;
            return new InvalidDataException($"{_source.Description}: no documents to read: {stats.RecordsRead:N0} records read, {skipped}{why}. Check --source, --format and the field options (--text-field, --id-field).");
        }

        /// <summary>
        /// Completes the checkpoint folder the trainer wrote (stream position, manifest, the runs' <c>latest</c>
        /// pointer), or removes the folder claimed for it when the run took no step. Returns the folder, or null.
        /// </summary>
        private string? FinishCheckpoint()
        {
            string? folder = _trainer?.SavedCheckpoint;
            if (folder is null)
            {
                ReleaseClaim();
                return null;
            }
            Trainer trainer = _trainer!;
            string target = _checkpointTarget ?? folder;
            try
            {
                bool hasPosition = false;
                if (_stream is not null && trainer.ResumeOrdinal >= 0)
                {
                    // Where the device got to, not how far the provider read ahead.
                    _stream.PositionAt(trainer.ResumeOrdinal).Save(Path.Combine(folder, CheckpointManifest.PositionFileName));
                    hasPosition = true;
                }
                new CheckpointManifest
                {
                    Task = _task.Name,
                    CreatedUtc = DateTimeOffset.UtcNow,
                    Steps = trainer.Steps,
                    Tokenizer = _vocabulary.Tokenizer,
                    VocabularySize = _vocabulary.Size,
                    NextBatchSequence = trainer.NextBatchSequence,
                    ResumeOffset = trainer.ResumeOffset,
                    LabelNames = Labels?.Names,
                    HasPosition = hasPosition,
                    Settings = _s.Recorded,
                }.Save(folder);
                CheckpointManifest.Publish(folder, target);
                if (_s.CheckpointUnderRuns)
                {
                    CheckpointManifest.PointLatestAt(target, RankSuffix);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointWriteException($"{target}: the checkpoint could not be completed: {ex.Message}", ex);
            }
            return target;
        }

        /// <summary>Removes the run folder claimed for a checkpoint that was never written (a run that took no step).</summary>
        private void ReleaseClaim()
        {
            if (_claimedFolder is not null && _s.CheckpointUnderRuns)
            {
                CheckpointManifest.ReleaseIfUnused(_claimedFolder);
            }
        }

        /// <summary>"-rank3" when this is one of several ranks, so each rank's folders and latest pointer are its own.</summary>
        private string? RankSuffix => _s.Rank.WorldSize > 1 ? $"-rank{_s.Rank.Rank}" : null;

        private ProgressSample Sample()
        {
            long produced = _batcherCounters?.ItemsOut ?? 0;
            long consumed = _consumer?.ItemsIn ?? 0;
            return new ProgressSample(
                _batcher?.Documents ?? 0,
                DeliveredTokens(),
                Math.Max(produced, consumed),
                _trainer?.StepsThisRun ?? 0,
                _trainer?.LastLoss ?? double.NaN,
                _source?.Statistics.RawBytesRead ?? 0,
                _source?.Statistics.RawBytesTotal,
                _documents?.Count ?? 0,
                _batcherCounters is not null && _consumer is not null ? (int)Math.Max(0, produced - consumed) : null,
                _source?.Statistics.Waiting);
        }

        /// <summary>
        /// Tokens in the batches the end of this process took (non-padding, special tokens included): trained on
        /// (train), taken by the sink (bench), or sent (loader).
        /// </summary>
        private long DeliveredTokens() => _trainer?.Tokens ?? _consumer?.TokensIn ?? _batcherCounters?.TokensOut ?? 0;

        private RunSummary Summarize(string outcome, Exception? error, string? checkpoint)
        {
            double wall = _clock.Elapsed.TotalSeconds;
            long tokens = DeliveredTokens();
            long batches = _consumer?.ItemsIn ?? _batcherCounters?.ItemsOut ?? 0;
            long documents = _batcher?.Documents ?? 0;
            SourceStatistics? stats = _source?.Statistics;
            return new RunSummary
            {
                Command = _s.Role == RunRole.Loader ? "load" : ModeName,
                Task = _task.Name,
                Role = _s.Role.ToString().ToLowerInvariant(),
                Source = _source?.Description ?? _s.In,
                Tokenizer = TokenizerName,
                Outcome = outcome,
                Error = error is null ? null : (error is PipelineStageException p ? p.Message : error.Message),
                Documents = documents,
                Tokens = tokens,
                TokensTokenized = _batcher?.Tokens,
                Batches = batches,
                Steps = _trainer?.StepsThisRun ?? 0,
                TotalSteps = _trainer?.Steps,
                LossFirst = _trainer is { Losses.Count: > 0 } ? _trainer.Losses[0] : null,
                LossLast = _trainer is { Losses.Count: > 0 } ? _trainer.Losses[^1] : null,
                WallSeconds = wall,
                DocumentsPerSecond = wall > 0 ? documents / wall : 0,
                TokensPerSecond = wall > 0 ? tokens / wall : 0,
                BatchesPerSecond = wall > 0 ? batches / wall : 0,
                Stages = _pipeline.Stages.Select(c => c.Snapshot()).ToArray(),
                PipelineSeconds = _resources?.PipelineSeconds,
                PipelineTokensPerSecond = _resources is { PipelineSeconds: > 0 } r && _batcher is not null ? _batcher.Tokens / r.PipelineSeconds : null,
                TokenizerSingleThreadTokensPerSecond = _ceiling?.SingleThreadTokensPerSecond,
                TokenizerCeilingTokensPerSecond = _ceiling?.AllThreadsTokensPerSecond,
                Efficiency = _ceiling is { AllThreadsTokensPerSecond: > 0 } c && _resources is { PipelineSeconds: > 0 } p2 && _batcher is not null ? _batcher.Tokens / p2.PipelineSeconds / c.AllThreadsTokensPerSecond : null,
                CeilingDocuments = _ceiling?.Documents,
                BottleneckStage = Bottleneck(),
                AllocatedBytes = _resources?.AllocatedBytes,
                AllocatedBytesPerBatch = _resources is { } a && batches > 0 ? a.AllocatedBytes / (double)batches : null,
                GcPauseSeconds = _resources?.GcPauseSeconds,
                PeakRssBytes = _resources?.PeakWorkingSet,
                Provider = stats is null || _stream is null ? null : new ProviderReport(
                    _source!.Description,
                    stats.RecordsRead,
                    stats.DocumentsYielded,
                    _providerCounters?.ItemsOut ?? 0,
                    stats.BytesRead,
                    _stream.OtherRanks,
                    _stream.ResumeSkipped,
                    _s.Rank.Rank,
                    _s.Rank.WorldSize,
                    stats.SkippedByReason,
                    stats.Examples,
                    checkpoint is not null && File.Exists(Path.Combine(checkpoint, CheckpointManifest.PositionFileName)) ? Path.Combine(checkpoint, CheckpointManifest.PositionFileName) : null,
                    stats.Resumes,
                    _stream.ResumeFilesSkipped),
                Batcher = _batcher is null ? null : new BatcherReport(_batcher.Workers, _batcher.EmptyDocuments, _sequenceLength, _s.BatchSize, _batcher.PaddingFraction, _context!.Counters.Snapshot()),
                Device = _trainer is null ? null : new DeviceReport(
                    _deviceName,
                    _s.ModelSize,
                    TorchRuntime.LoadedFrom,
                    _trainer.BatchesWithoutTargets,
                    checkpoint,
                    _s.ResumeFolder,
                    Downsample(_trainer.Losses, 200),
                    EvaluationOf(_trainer),
                    _trainer.InitializedParameters is null ? null : _s.InitFrom),
                Settings = new SettingsReport(_s.Seed, _sequenceLength, _s.BatchSize, _s.Epochs, _s.ShuffleBuffer, _s.MaxSteps, _s.TaskSettings.Keys.ToDictionary(k => k, k => _s.TaskSettings.GetString(k, string.Empty))),
            };
        }

        /// <summary>The classifier's held-out scores and its baselines (fitted now, on the training rows seen); null without held-out rows.</summary>
        private EvaluationReport? EvaluationOf(Trainer trainer)
        {
            if (trainer.Evaluator is not { Rows: > 0 } evaluator || Labels is null)
            {
                return null;
            }
            var baselines = evaluator.EvaluateBaselines().ToDictionary(p => p.Key, p => new ScoreReport(p.Value.Rows, p.Value.Accuracy, p.Value.MicroF1, p.Value.MacroF1));
            return new EvaluationReport(
                _context?.HeldOut.Description ?? "the batches the loader marked split=eval (its --eval-split)",
                Labels.Names,
                evaluator.Records.Select(r => new EvaluationPoint(r.Step, r.Scores.Rows, r.Scores.Accuracy, r.Scores.MicroF1, r.Scores.MacroF1)).ToArray(),
                baselines,
                evaluator.RowsNotKept);
        }

        /// <summary>
        /// The stage busiest over the whole run (a pool's busy time over its workers): the one the others wait for. A
        /// stage that finished early is measured against the whole run too, not its own short life.
        /// </summary>
        private string? Bottleneck()
        {
            string? name = null;
            double highest = -1;
            double run = _resources?.PipelineSeconds ?? 0;
            foreach (StageSnapshot stage in _pipeline.Stages.Select(c => c.Snapshot()))
            {
                double capacity = Math.Max(run, stage.WallSeconds) * (stage.WorkerBusySeconds is null ? 1 : Math.Max(1, _batcher?.Workers ?? 1));
                double utilization = capacity > 0 ? (stage.WorkerBusySeconds ?? stage.BusySeconds) / capacity : 0;
                if (utilization > highest)
                {
                    (name, highest) = (stage.Name, utilization);
                }
            }
            return name;
        }

        /// <summary>What the pipeline's run cost the process: its time, allocations, GC pauses and memory.</summary>
        private sealed record ResourceReport(double PipelineSeconds, long AllocatedBytes, double GcPauseSeconds, long PeakWorkingSet);

        public async ValueTask DisposeAsync()
        {
            if (_writer is not null)
            {
                await _writer.DisposeAsync().ConfigureAwait(false);
            }
            if (_reader is not null)
            {
                await _reader.DisposeAsync().ConfigureAwait(false);
            }
            _trainer?.Dispose();
            _model?.Dispose();
        }
    }

    private static long CountParameters(ITaskModel model)
    {
        long total = 0;
        foreach (TorchSharp.Modules.Parameter p in model.Module.parameters())
        {
            total += p.numel();
        }
        return total;
    }

    private static double[] Downsample(IReadOnlyList<double> values, int points)
    {
        if (values.Count <= points)
        {
            return values.ToArray();
        }
        var result = new double[points];
        for (int i = 0; i < points; i++)
        {
            result[i] = values[(int)((long)i * (values.Count - 1) / (points - 1))];
        }
        return result;
    }
}
