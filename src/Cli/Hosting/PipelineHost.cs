using System.Diagnostics;
using StreamLoader.Batcher;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Cli.Commands;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tasks.Mlm;
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

    /// <summary>The task plugins shipped in <c>tasks/</c>.</summary>
    public static TaskCatalog Catalog { get; } = TaskCatalog.Discover(typeof(MaskedLanguageModelingTask).Assembly);

    /// <summary>Inspect: batches to render.</summary>
    public int InspectBatches { get; init; } = 2;

    /// <summary>Inspect: rows per batch to render.</summary>
    public int InspectRows { get; init; } = 4;

    /// <summary>Runs to completion. Returns the summary and, for a failed or cancelled run, the error (the caller reports it).</summary>
    public async Task<(RunSummary Summary, Exception? Error)> RunAsync(CancellationToken cancellationToken)
    {
        ITrainingTask task = Catalog.Get(_settings.Task);
        _settings.TaskSettings.ValidateAgainst(task);
        ITextTokenizer tokenizer = TokenizerFactory.Create(_settings.Tokenizer);
        var context = new BatchingContext(tokenizer, _settings.SequenceLength, _settings.BatchSize, _settings.Seed, _settings.TaskSettings);
        // Fail on bad task settings now, before any stage starts.
        _ = task.CreateBatchBuilder(context);

        await using var run = new Run(this, task, tokenizer, context);
        bool loader = _settings.Role != RunRole.Device;
        bool device = _settings.Role != RunRole.Loader;
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

    /// <summary>One run's services and their state, from wiring to the summary.</summary>
    private sealed class Run : IAsyncDisposable
    {
        private readonly PipelineHost _host;
        private readonly RunSettings _s;
        private readonly ITrainingTask _task;
        private readonly ITextTokenizer _tokenizer;
        private readonly BatchingContext _context;
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

        public Run(PipelineHost host, ITrainingTask task, ITextTokenizer tokenizer, BatchingContext context)
        {
            _host = host;
            _s = host._settings;
            _task = task;
            _tokenizer = tokenizer;
            _context = context;
        }

        private IProgressView Progress => _host._progress;

        private string ModeName => _host._mode.ToString().ToLowerInvariant();

        public void AddProvider()
        {
            _source = SourceFactory.Create(_s.Source, _s.SourceSettings);
            var stream = new DocumentStream(_source, new DocumentStreamOptions { Rank = _s.Rank, Seed = _s.Seed, ShuffleBuffer = _s.ShuffleBuffer, Epochs = _s.Epochs });
            ProviderPosition? resume = _s.Resume is null ? null : ProviderPosition.Load(_s.Resume);
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
                    _reader = await TransportFactory.OpenReaderAsync(_s.In, window: _s.Queue, cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        public void AddBatcher()
        {
            var batcher = new BatcherService(_task, _context, _s.Workers);
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
            ITaskModel model = deviceTask.CreateModel(new ModelContext(_tokenizer, _s.SequenceLength, _s.ModelSize, device, _s.Seed, _s.TaskSettings));
            _model = model;
            var options = new TrainerOptions
            {
                MaxSteps = _s.MaxSteps,
                LearningRate = _s.LearningRate,
                WarmupSteps = _s.Warmup,
                ClipNorm = _s.Clip,
                LogEvery = _s.LogEvery,
                CheckpointPath = _s.Checkpoint,
            };
            var trainer = new Trainer(model, options, device)
            {
                OnLog = r => Progress.Log($"step {r.Step,6}  loss {r.Loss:0.0000}  lr {r.LearningRate:0.00e+0}  {r.StepSeconds * 1000:0} ms/step"),
            };
            _trainer = trainer;
            if (TorchRuntime.CudaProblem is { } problem)
            {
                Progress.Log("note: CUDA is visible but could not be used, so training runs on the CPU: " + problem);
            }
            Progress.Log($"device: {_deviceName} ({TorchRuntime.LoadedFrom}), model {_s.ModelSize}, vocab {_tokenizer.VocabularySize:N0}, {CountParameters(model):N0} parameters");
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
                await foreach (TensorBatch batch in input.ReadAllAsync(stage.CancellationToken).CountWaitsUpstream(stage.Counters, stage.CancellationToken).ConfigureAwait(false))
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
                await foreach (TensorBatch batch in input.ReadAllAsync(stage.CancellationToken).CountWaitsUpstream(stage.Counters, stage.CancellationToken).ConfigureAwait(false))
                {
                    using (batch)
                    {
                        _task.Render(batch, _tokenizer, output, rows);
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
                ? $"{_task.Name}: {_source.Description} -> {_tokenizer.Name} (workers {_s.Workers}) -> {_writer!.Description} -> {(_consumer is not null ? ModeName : _s.Out)}"
                : $"{_task.Name}: frames from {_reader!.Description} -> {ModeName}");
            Progress.Start(Sample);

            Exception? error = null;
            bool readerClosed = false;
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
                await Progress.DisposeAsync().ConfigureAwait(false);
            }

            bool cancelled = error is OperationCanceledException;
            string outcome = readerClosed ? "reader_closed"
                : error is null ? (_pipeline.StoppedEarly ? "stopped_at_limit" : "completed")
                : cancelled ? "cancelled" : "failed";
            // A cancelled run keeps its checkpoint and position (Ctrl+C then --resume); a failed one does not.
            string? positionSaved = error is null || cancelled ? SavePosition() : null;
            return (Summarize(outcome, cancelled ? null : error, positionSaved, keptCheckpoint: error is null || cancelled), error);
        }

        /// <summary>Saves where the device got to (not how far the provider read ahead), for --resume.</summary>
        private string? SavePosition()
        {
            if (_stream is null || _s.SavePosition is null || _s.Role != RunRole.All || _trainer is null)
            {
                return null;
            }
            ProviderPosition position = _trainer.ResumeOrdinal >= 0 ? _stream.PositionAt(_trainer.ResumeOrdinal) : _stream.Position;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_s.SavePosition))!);
            position.Save(_s.SavePosition);
            return _s.SavePosition;
        }

        private ProgressSample Sample()
        {
            long produced = _batcherCounters?.ItemsOut ?? 0;
            long consumed = _consumer?.ItemsIn ?? 0;
            return new ProgressSample(
                _batcher?.Documents ?? 0,
                _batcher?.Tokens ?? 0,
                Math.Max(produced, consumed),
                _trainer?.Steps ?? 0,
                _trainer?.LastLoss ?? double.NaN,
                _source?.Statistics.RawBytesRead ?? 0,
                _source?.Statistics.RawBytesTotal,
                _documents?.Count ?? 0,
                (int)Math.Max(0, produced - consumed));
        }

        private RunSummary Summarize(string outcome, Exception? error, string? positionSaved, bool keptCheckpoint)
        {
            double wall = _clock.Elapsed.TotalSeconds;
            long tokens = _batcher?.Tokens ?? 0;
            long batches = _consumer?.ItemsIn ?? _batcherCounters?.ItemsOut ?? 0;
            SourceStatistics? stats = _source?.Statistics;
            return new RunSummary
            {
                Command = _s.Role == RunRole.Loader ? "load" : ModeName,
                Task = _task.Name,
                Role = _s.Role.ToString().ToLowerInvariant(),
                Source = _source?.Description ?? _s.In,
                Tokenizer = _tokenizer.Name,
                Outcome = outcome,
                Error = error is null ? null : (error is PipelineStageException p ? p.Message : error.Message),
                Documents = _batcher?.Documents ?? 0,
                Tokens = tokens,
                Batches = batches,
                Steps = _trainer?.Steps ?? 0,
                LossFirst = _trainer is { Losses.Count: > 0 } ? _trainer.Losses[0] : null,
                LossLast = _trainer is { Losses.Count: > 0 } ? _trainer.Losses[^1] : null,
                WallSeconds = wall,
                TokensPerSecond = wall > 0 ? tokens / wall : 0,
                Stages = _pipeline.Stages.Select(c => c.Snapshot()).ToArray(),
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
                    positionSaved),
                Batcher = _batcher is null ? null : new BatcherReport(_batcher.Workers, _batcher.EmptyDocuments, _s.SequenceLength, _s.BatchSize),
                Device = _trainer is null ? null : new DeviceReport(
                    _deviceName,
                    _s.ModelSize,
                    TorchRuntime.LoadedFrom,
                    _trainer.BatchesWithoutTargets,
                    keptCheckpoint && _trainer.Steps > 0 ? _s.Checkpoint : null,
                    Downsample(_trainer.Losses, 200)),
                Settings = new SettingsReport(_s.Seed, _s.SequenceLength, _s.BatchSize, _s.Epochs, _s.ShuffleBuffer, _s.MaxSteps, _s.TaskSettings.Keys.ToDictionary(k => k, k => _s.TaskSettings.GetString(k, string.Empty))),
            };
        }

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
