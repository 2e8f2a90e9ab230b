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

    /// <summary>Runs to completion. Returns the summary; a failed run's summary carries the error and is then rethrown by the caller.</summary>
    public async Task<(RunSummary Summary, Exception? Error)> RunAsync(CancellationToken cancellationToken)
    {
        RunSettings s = _settings;
        ITrainingTask task = Catalog.Get(s.Task);
        s.TaskSettings.ValidateAgainst(task);
        ITextTokenizer tokenizer = TokenizerFactory.Create(s.Tokenizer);
        var context = new BatchingContext(tokenizer, s.SequenceLength, s.BatchSize, s.Seed, s.TaskSettings);
        // Fail on bad task settings now, before any stage starts.
        _ = task.CreateBatchBuilder(context);

        var pipeline = new Pipeline();
        var clock = Stopwatch.StartNew();
        bool runsLoader = s.Role != RunRole.Device;
        bool runsDevice = s.Role != RunRole.Loader;

        IDocumentSource? source = null;
        DocumentStream? stream = null;
        BatcherService? batcher = null;
        PipelineChannel<Document>? documents = null;
        IBatchWriter? writer = null;
        IBatchReader? reader = null;
        Trainer? trainer = null;
        ITaskModel? model = null;
        string deviceName = "none";
        long sinkBatches = 0;
        string role = s.Role.ToString().ToLowerInvariant();

        try
        {
            if (runsLoader)
            {
                source = SourceFactory.Create(s.Source, s.SourceSettings);
                stream = new DocumentStream(source, new DocumentStreamOptions { Rank = s.Rank, Seed = s.Seed, ShuffleBuffer = s.ShuffleBuffer, Epochs = s.Epochs });
                ProviderPosition? resume = s.Resume is null ? null : ProviderPosition.Load(s.Resume);
                documents = pipeline.CreateChannel<Document>("documents", s.Queue * 64);
                PipelineChannel<Document> docs = documents;
                DocumentStream docStream = stream;
                pipeline.AddStage("provider", async stage =>
                {
                    StageWriter<Document> output = stage.Writer(docs);
                    await foreach (Document document in docStream.ReadAsync(resume, stage.CancellationToken).ConfigureAwait(false))
                    {
                        await output.WriteAsync(document, (long)document.Length * sizeof(char)).ConfigureAwait(false);
                    }
                });
            }

            if (s.Role == RunRole.All)
            {
                (writer, reader) = InProcessTransport.Create(s.Queue);
            }
            else if (s.Role == RunRole.Loader)
            {
                if (s.Out.StartsWith("unix:", StringComparison.Ordinal))
                {
                    _progress.Log($"loader: waiting for the reader to connect to {s.Out} ...");
                }
                writer = await TransportFactory.OpenWriterAsync(s.Out, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                reader = await TransportFactory.OpenReaderAsync(s.In, window: s.Queue, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            if (runsLoader)
            {
                batcher = new BatcherService(task, context, s.Workers);
                BatcherService service = batcher;
                PipelineChannel<Document> docs = documents!;
                IBatchWriter output = writer!;
                pipeline.AddStage("batcher", stage => service.RunAsync(stage, docs, output));
            }

            if (runsDevice)
            {
                IBatchReader input = reader!;
                switch (_mode)
                {
                    case HostMode.Train:
                        if (task is not IDeviceTask deviceTask)
                        {
                            throw new InvalidOperationException($"Task '{task.Name}' has no device side (it does not implement IDeviceTask), so it cannot train.");
                        }
                        TorchRuntime.EnsureLoaded();
                        if (s.TorchThreads > 0)
                        {
                            torch.set_num_threads(s.TorchThreads);
                        }
                        torch.Device device = TorchRuntime.SelectDevice(s.Device);
                        deviceName = device.ToString();
                        model = deviceTask.CreateModel(new ModelContext(tokenizer, s.SequenceLength, s.ModelSize, device, s.Seed, s.TaskSettings));
                        trainer = new Trainer(model, new TrainerOptions
                        {
                            MaxSteps = s.MaxSteps,
                            LearningRate = s.LearningRate,
                            WarmupSteps = s.Warmup,
                            ClipNorm = s.Clip,
                            LogEvery = s.LogEvery,
                            CheckpointPath = s.Checkpoint,
                        }, device)
                        {
                            OnLog = r => _progress.Log($"step {r.Step,6}  loss {r.Loss:0.0000}  lr {r.LearningRate:0.00e+0}  {r.StepSeconds * 1000:0} ms/step"),
                        };
                        _progress.Log($"device: {deviceName} ({TorchRuntime.LoadedFrom}), model {s.ModelSize}, vocab {tokenizer.VocabularySize:N0}, {CountParameters(model):N0} parameters");
                        Trainer t = trainer;
                        pipeline.AddStage("device", stage => t.RunAsync(stage, input));
                        break;
                    case HostMode.Bench:
                        pipeline.AddStage("sink", async stage =>
                        {
                            await foreach (TensorBatch batch in input.ReadAllAsync(stage.CancellationToken).CountWaitsUpstream(stage.Counters, stage.CancellationToken).ConfigureAwait(false))
                            {
                                batch.Dispose();
                                if (s.MaxSteps is long max && Interlocked.Increment(ref sinkBatches) >= max)
                                {
                                    stage.StopPipeline();
                                    break;
                                }
                            }
                        });
                        break;
                    case HostMode.Inspect:
                        pipeline.AddStage("inspect", async stage =>
                        {
                            int shown = 0;
                            await foreach (TensorBatch batch in input.ReadAllAsync(stage.CancellationToken).CountWaitsUpstream(stage.Counters, stage.CancellationToken).ConfigureAwait(false))
                            {
                                using (batch)
                                {
                                    task.Render(batch, tokenizer, _output, InspectRows);
                                    _output.WriteLine();
                                }
                                if (++shown >= InspectBatches)
                                {
                                    stage.StopPipeline();
                                    break;
                                }
                            }
                        });
                        break;
                }
            }
            else
            {
                // Loader role: the batcher writes straight into the stream transport.
                pipeline.AddExternalCounters("transport");
            }

            foreach (string note in s.Notes)
            {
                _progress.Log("note: " + note);
            }
            _progress.Log(runsLoader
                ? $"{task.Name}: {source!.Description} -> {tokenizer.Name} (workers {s.Workers}) -> {writer!.Description} -> {(runsDevice ? _mode.ToString().ToLowerInvariant() : s.Out)}"
                : $"{task.Name}: frames from {reader!.Description} -> {_mode.ToString().ToLowerInvariant()}");

            StageCounters? Find(string name) => pipeline.Stages.FirstOrDefault(c => c.Name == name);
            _progress.Start(() => new ProgressSample(
                batcher?.Documents ?? 0,
                batcher?.Tokens ?? 0,
                Find("batcher")?.ItemsOut ?? Find("device")?.ItemsIn ?? 0,
                trainer?.Steps ?? 0,
                trainer?.LastLoss ?? double.NaN,
                source?.Statistics.RawBytesRead ?? 0,
                source?.Statistics.RawBytesTotal,
                documents?.Count ?? 0,
                (int)Math.Max(0, (Find("batcher")?.ItemsOut ?? 0) - (Find("device") ?? Find("sink") ?? Find("inspect"))?.ItemsIn ?? 0)));

            Exception? error = null;
            bool readerClosed = false;
            try
            {
                await pipeline.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PipelineStageException ex) when (s.Role == RunRole.Loader && ex.InnerException is ReaderClosedException closed)
            {
                // The consumer took what it needed and exited: not a failure of the loader.
                _progress.Log("note: " + closed.Message);
                readerClosed = true;
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                await _progress.DisposeAsync().ConfigureAwait(false);
            }

            string? positionSaved = null;
            bool cancelled = error is OperationCanceledException;
            if ((error is null || cancelled) && stream is not null && s.SavePosition is not null && s.Role == RunRole.All && _mode == HostMode.Train)
            {
                // Save where the device got to, not where the provider had read ahead to.
                ProviderPosition position = trainer is { ResumeOrdinal: >= 0 } ? stream.PositionAt(trainer.ResumeOrdinal) : stream.Position;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(s.SavePosition))!);
                position.Save(s.SavePosition);
                positionSaved = s.SavePosition;
            }

            double wall = clock.Elapsed.TotalSeconds;
            long tokens = batcher?.Tokens ?? 0;
            long batches = runsDevice ? (Find("device") ?? Find("sink") ?? Find("inspect"))?.ItemsIn ?? 0 : Find("batcher")?.ItemsOut ?? 0;
            var summary = new RunSummary
            {
                Command = s.Role == RunRole.Loader ? "load" : _mode.ToString().ToLowerInvariant(),
                Task = task.Name,
                Role = role,
                Source = source?.Description ?? s.In,
                Tokenizer = tokenizer.Name,
                Outcome = readerClosed ? "reader_closed" : error is null ? (pipeline.StoppedEarly ? "stopped_at_limit" : "completed") : (error is OperationCanceledException ? "cancelled" : "failed"),
                Error = error is null || cancelled ? null : (error is PipelineStageException p ? p.Message : error.Message),
                Documents = batcher?.Documents ?? 0,
                Tokens = tokens,
                Batches = batches,
                Steps = trainer?.Steps ?? 0,
                LossFirst = trainer is { Losses.Count: > 0 } ? trainer.Losses[0] : null,
                LossLast = trainer is { Losses.Count: > 0 } ? trainer.Losses[^1] : null,
                WallSeconds = wall,
                TokensPerSecond = wall > 0 ? tokens / wall : 0,
                Stages = pipeline.Stages.Select(c => c.Snapshot()).ToArray(),
                Provider = source is null || stream is null ? null : new ProviderReport(
                    source.Description,
                    source.Statistics.RecordsRead,
                    source.Statistics.DocumentsYielded,
                    Find("provider")?.ItemsOut ?? 0,
                    source.Statistics.BytesRead,
                    stream.OtherRanks,
                    stream.ResumeSkipped,
                    s.Rank.Rank,
                    s.Rank.WorldSize,
                    source.Statistics.SkippedByReason,
                    source.Statistics.Examples,
                    positionSaved),
                Batcher = batcher is null ? null : new BatcherReport(batcher.Workers, batcher.EmptyDocuments, s.SequenceLength, s.BatchSize),
                Device = trainer is null ? null : new DeviceReport(deviceName, s.ModelSize, TorchRuntime.LoadedFrom, trainer.BatchesWithoutTargets, (error is null || cancelled) && trainer.Steps > 0 ? s.Checkpoint : null, Downsample(trainer.Losses, 200)),
                Settings = new SettingsReport(s.Seed, s.SequenceLength, s.BatchSize, s.Epochs, s.ShuffleBuffer, s.MaxSteps, s.TaskSettings.Keys.ToDictionary(k => k, k => s.TaskSettings.GetString(k, string.Empty))),
            };
            return (summary, error);
        }
        finally
        {
            if (writer is not null)
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
            if (reader is not null)
            {
                await reader.DisposeAsync().ConfigureAwait(false);
            }
            model?.Dispose();
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
