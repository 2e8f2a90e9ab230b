using System.Diagnostics;
using StreamLoader.Batcher;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Hosting.Consumers;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Transport;
using StreamLoader.Transport.Catalog;
using StreamLoader.Transport.InProcess;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// One run's services and their state, from wiring to the summary: the provider, the batcher and the transport, with
/// a consumer (<see cref="IRunConsumer"/>) behind it for the kind of run, or none for a loader.
/// </summary>
internal sealed class PipelineRun : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly IRunConsumer? _consumer;
    private PipelineChannel<Document>? _documents;
    private IBatchWriter? _writer;
    private StageCounters? _providerCounters;
    private StageCounters? _batcherCounters;
    private ProviderPosition? _resume;
    private long _pipelineStart;
    private double _processSecondsAtPipelineStart;

    public PipelineRun(RunSettings settings, ITrainingTask task, ITextTokenizer? tokenizer, VocabularyInfo vocabulary, int sequenceLength, BatchingContext? context, IBatchReader? reader, IRunConsumer? consumer, IProgressView progress, TextWriter output)
    {
        Settings = settings;
        Task = task;
        Tokenizer = tokenizer;
        Vocabulary = vocabulary;
        SequenceLength = sequenceLength;
        Context = context;
        Reader = reader;
        _consumer = consumer;
        Progress = progress;
        Output = output;
    }

    public RunSettings Settings { get; }

    public ITrainingTask Task { get; }

    /// <summary>The tokenizer; null for a device role that decodes nothing.</summary>
    public ITextTokenizer? Tokenizer { get; }

    public VocabularyInfo Vocabulary { get; }

    public int SequenceLength { get; }

    /// <summary>The batcher's context; null without a batcher.</summary>
    public BatchingContext? Context { get; }

    /// <summary>A classifier's label names; null for other tasks.</summary>
    public LabelSet? Labels { get; init; }

    public Pipeline Pipeline { get; } = new();

    /// <summary>The batches the consumer reads (the transport's end in this process).</summary>
    public IBatchReader? Reader { get; private set; }

    public IProgressView Progress { get; }

    /// <summary>Standard output (inspect writes there).</summary>
    public TextWriter Output { get; }

    public IDocumentSource? Source { get; private set; }

    // The live stream: the host wires it and reads its counters for the summary; the consumers ask Positions.
    private DocumentStream? Stream { get; set; }

    /// <summary>Where the provider's stream stood at each document: what the consumers ask for resume points (null without a provider).</summary>
    public PositionLog? Positions => Stream?.Positions;

    public BatcherService? Batcher { get; private set; }

    /// <summary>The position the provider started from, or null for the start.</summary>
    public ProviderPosition? ResumedAt => _resume;

    /// <summary>What the pipeline's run cost; null until it has run.</summary>
    public ResourceReport? Resources { get; private set; }

    /// <summary>The tokenizer's name, or the frames' one.</summary>
    public string TokenizerName => Tokenizer?.Name ?? Vocabulary.Tokenizer;

    /// <summary>"-rank3" when this is one of several ranks, so each rank's folders and files are its own.</summary>
    public string? RankSuffix => Settings.Provider.Rank.WorldSize > 1 ? $"-rank{Settings.Provider.Rank.Rank}" : null;

    /// <summary>The stage the consumer added, for its counters (batches and tokens in).</summary>
    public StageCounters? ConsumerStage { get; set; }

    /// <summary>
    /// The provider's record of the documents it emitted, in stream order, when the consumer's plan asked for one (a row
    /// per input document); null otherwise.
    /// </summary>
    public DocumentRecordLog? Documents { get; private set; }

    public void AddProvider(ProviderPlan plan)
    {
        ProviderRunSettings p = Settings.Provider;
        Source = SourceFactory.Create(p.Sources, p.Reading, p.Weights);
        var stream = new DocumentStream(Source, new DocumentStreamOptions { Rank = p.Rank, Seed = Settings.Seed, ShuffleBuffer = p.ShuffleBuffer, ShuffleStart = p.ShuffleStart, Interleave = p.Interleave, Epochs = p.Epochs, ShardBlock = plan.ShardBlock, GlobalOrder = p.GlobalOrder });
        ProviderPosition? resume = plan.Resume ?? Settings.Redealt?.Start;
        if (Settings.Redealt is { } redealt)
        {
            Progress.Log(redealt.Description);
        }
        if (resume is null && Settings.ResumeFolder is { } folder)
        {
            if (Settings.ResumeManifest is not { HasPosition: true })
            {
                throw new SettingsConflictException($"--resume {folder}: the checkpoint has no stream position (a device-role run writes none), so the data cannot continue from it.");
            }
            resume = ProviderPosition.Load(Path.Combine(folder, CheckpointManifest.PositionFileName));
        }
        _resume = resume;
        PipelineChannel<Document> documents = Pipeline.CreateChannel<Document>("documents", Settings.Transport.Queue * 64);
        Stream = stream;
        _documents = documents;
        DocumentRecordLog? records = plan.RecordDocuments is { } keep ? new DocumentRecordLog(keep) : null;
        Documents = records;
        _providerCounters = Pipeline.AddStage("provider", async stage =>
        {
            StageWriter<Document> output = stage.Writer(documents);
            await foreach (Document document in stream.ReadAsync(resume, stage.CancellationToken).ConfigureAwait(false))
            {
                records?.Append(document);
                await output.WriteAsync(document, (long)document.Length * sizeof(char)).ConfigureAwait(false);
            }
        });
    }

    public async Task OpenTransportAsync(CancellationToken cancellationToken)
    {
        TransportRunSettings t = Settings.Transport;
        switch (t.Role)
        {
            case RunRole.All:
                (_writer, IBatchReader reader) = InProcessTransport.Create(t.Queue);
                Reader = reader;
                break;
            case RunRole.Loader:
                ITransportKind kind = TransportCatalog.Default.Resolve(t.Out);
                if (kind.WriterWaits(t.Out) is { } waiting)
                {
                    Progress.Log(waiting);
                }
                // No device stage here: the batcher writes straight into the transport, so its downstream
                // wait is the transport's (and the remote consumer's) back-pressure.
                _writer = await kind.OpenWriterAsync(t.Out, new TransportEndOptions(t.Queue, t.ZeroMq), cancellationToken).ConfigureAwait(false);
                break;
            case RunRole.Device:
                // Opened, and its first batch read, before the run was wired.
                break;
        }
    }

    public void AddBatcher()
    {
        var batcher = new BatcherService(Task, Context!, Settings.Batcher.Workers)
        {
            // The loader's --max-steps counts batches; in one process the device counts steps and stops the run.
            MaxBatches = Settings.Transport.Role == RunRole.Loader ? Settings.MaxSteps : null,
            // The documents the resumed stream starts part-way into: the batcher drops their tokens already trained on.
            ResumeOffsets = _resume?.PartTrained(Settings.Redealt is null ? Settings.ResumeManifest?.ResumeOffset ?? 0 : 0) ?? [],
        };
        PipelineChannel<Document> documents = _documents!;
        // Frames leaving the process carry the stream position too: the device has no stream to ask.
        IBatchWriter output = Settings.Transport.Role == RunRole.Loader && Stream is not null ? new PositionStampingWriter(_writer!, Stream.Positions) : _writer!;
        Batcher = batcher;
        _batcherCounters = Pipeline.AddStage("batcher", stage => batcher.RunAsync(stage, documents, output));
    }

    /// <summary>Runs the pipeline, lets the consumer finish, and returns the summary and the error (null when it completed).</summary>
    public async Task<(RunSummary Summary, Exception? Error)> ExecuteAsync(CancellationToken cancellationToken)
    {
        foreach (string note in Settings.Notes)
        {
            Progress.Log("note: " + note);
        }
        string consumer = _consumer?.Command ?? Settings.Transport.Out;
        Progress.Log(Source is not null
            ? $"{Task.Name}: {Source.Description} -> {TokenizerName} (workers {Settings.Batcher.Workers}) -> {_writer!.Description} -> {consumer}"
            : $"{Task.Name}: frames from {Reader!.Description} ({Vocabulary.Tokenizer}, seq {SequenceLength}) -> {consumer}");
        Progress.Start(Sample);

        if (_consumer?.NothingToDo is { } nothing)
        {
            Progress.Log(nothing);
            await Progress.DisposeAsync().ConfigureAwait(false);
            return (_consumer.Describe(this, Summarize("already_complete", null)), null);
        }
        Exception? error = null;
        bool readerClosed = false;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        TimeSpan pausedBefore = GC.GetTotalPauseDuration();
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        long pipelineStart = Stopwatch.GetTimestamp();
        _pipelineStart = pipelineStart;
        _processSecondsAtPipelineStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
        try
        {
            await Pipeline.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PipelineStageException ex) when (Settings.Transport.Role == RunRole.Loader && ex.InnerException is ReaderClosedException closed)
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
            Resources = new ResourceReport(
                Stopwatch.GetElapsedTime(pipelineStart).TotalSeconds,
                GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore,
                (GC.GetTotalPauseDuration() - pausedBefore).TotalSeconds,
                Process.GetCurrentProcess().PeakWorkingSet64,
                (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds);
            await Progress.DisposeAsync().ConfigureAwait(false);
        }

        if (error is null && !readerClosed && !Pipeline.StoppedEarly && NoDocuments() is { } empty)
        {
            error = empty;
        }
        if (_consumer is not null && await _consumer.FinishAsync(this, error, cancellationToken).ConfigureAwait(false) is { } finishing)
        {
            error ??= finishing;
        }
        bool cancelled = error is OperationCanceledException;
        string outcome = readerClosed ? "reader_closed"
            : error is null ? (Pipeline.StoppedEarly ? "stopped_at_limit" : "completed")
            : cancelled ? "cancelled" : "failed";
        RunSummary summary = Summarize(outcome, cancelled ? null : error);
        return (_consumer is null ? summary : _consumer.Describe(this, summary), error);
    }

    /// <summary>Zero documents is an input error: it says what was read and skipped, so the cause can be seen.</summary>
    private InvalidDataException? NoDocuments()
    {
        if (Source is null || Stream is null || (_providerCounters?.ItemsOut ?? 0) > 0 || (_consumer is { EmptyShareIsDone: true } && (Stream.OtherRanks > 0 || Stream.ResumeSkipped > 0)))
        {
            return null;
        }
        SourceStatistics stats = Source.Statistics;
        string skipped = stats.Skipped == 0 ? "none skipped" : "skipped " + string.Join(", ", stats.SkippedByReason.Select(p => $"{p.Key} {p.Value:N0}"));
        string why = Stream.ResumeSkipped > 0 ? $"; all {Stream.ResumeSkipped:N0} documents of this rank were consumed before the resume point"
            : Stream.OtherRanks > 0 ? $"; {Stream.OtherRanks:N0} documents went to the other ranks of {Settings.Provider.Rank.WorldSize}"
            : string.Empty;
        return new InvalidDataException($"{Source.Description}: no documents to read: {stats.RecordsRead:N0} records read, {skipped}{why}. Check --source, --format and the field options (--text-field, --id-field).");
    }

    private ProgressSample Sample()
    {
        long produced = _batcherCounters?.ItemsOut ?? 0;
        long consumed = ConsumerStage?.ItemsIn ?? 0;
        var sample = new ProgressSample(
            Batcher?.Documents ?? 0,
            DeliveredTokens(),
            Math.Max(produced, consumed),
            0,
            double.NaN,
            Source?.Statistics.RawBytesRead ?? 0,
            Source?.Statistics.RawBytesTotal,
            _documents?.Count ?? 0,
            _batcherCounters is not null && ConsumerStage is not null ? (int)Math.Max(0, produced - consumed) : null,
            Source?.Statistics.Waiting);
        return _consumer is null ? sample : _consumer.Sample(sample);
    }

    /// <summary>
    /// Tokens in the batches the end of this process took (non-padding, special tokens included): trained on or
    /// predicted (the consumer's count), taken by the consumer's stage (bench), or sent (loader).
    /// </summary>
    private long DeliveredTokens() => _consumer?.Tokens ?? ConsumerStage?.TokensIn ?? _batcherCounters?.TokensOut ?? 0;

    private RunSummary Summarize(string outcome, Exception? error)
    {
        double wall = _clock.Elapsed.TotalSeconds;
        long tokens = DeliveredTokens();
        long batches = ConsumerStage?.ItemsIn ?? _batcherCounters?.ItemsOut ?? 0;
        long documents = Batcher?.Documents ?? 0;
        SourceStatistics? stats = Source?.Statistics;
        ResourceReport? resources = Resources;
        double? firstBatch = FirstBatchSeconds();
        return new RunSummary
        {
            Command = Settings.Transport.Role == RunRole.Loader ? "load" : _consumer?.Command ?? "load",
            Task = Task.Name,
            Role = Settings.Transport.Role.ToString().ToLowerInvariant(),
            Source = StreamLoader.Provider.Http.HttpCredentials.Mask(Source?.Description ?? Settings.Transport.In),
            Tokenizer = TokenizerName,
            Outcome = outcome,
            Error = error is null ? null : (error is PipelineStageException p ? p.Message : error.Message),
            Documents = documents,
            Tokens = tokens,
            TokensTokenized = Batcher?.Tokens,
            Batches = batches,
            WallSeconds = wall,
            DocumentsPerSecond = wall > 0 ? documents / wall : 0,
            TokensPerSecond = wall > 0 ? tokens / wall : 0,
            BatchesPerSecond = wall > 0 ? batches / wall : 0,
            Stages = Pipeline.Stages.Select(c => c.Snapshot()).ToArray(),
            PipelineSeconds = resources?.PipelineSeconds,
            FirstBatchSeconds = firstBatch,
            FirstBatchAfterProcessStartSeconds = firstBatch + _processSecondsAtPipelineStart,
            PipelineTokensPerSecond = resources is { PipelineSeconds: > 0 } r && Batcher is not null ? Batcher.Tokens / r.PipelineSeconds : null,
            BottleneckStage = Bottleneck(),
            AllocatedBytes = resources?.AllocatedBytes,
            AllocatedBytesPerBatch = resources is { } a && batches > 0 ? a.AllocatedBytes / (double)batches : null,
            TokenizerAllocatedBytesPerBatch = resources is not null && batches > 0 && Batcher is not null ? Batcher.TokenizerAllocatedBytes / (double)batches : null,
            DocumentTextBytesPerBatch = resources is not null && batches > 0 && Batcher is not null ? Batcher.DocumentTextBytes / (double)batches : null,
            OtherAllocatedBytesPerBatch = resources is { } o && batches > 0 && Batcher is not null ? Math.Max(0, o.AllocatedBytes - Batcher.TokenizerAllocatedBytes - Batcher.DocumentTextBytes) / (double)batches : null,
            GcPauseSeconds = resources?.GcPauseSeconds,
            PeakRssBytes = resources?.PeakWorkingSet,
            PipelineCpuSeconds = resources?.CpuSeconds,
            CoresBusy = resources is { PipelineSeconds: > 0 } c ? c.CpuSeconds / c.PipelineSeconds : null,
            Cores = Environment.ProcessorCount,
            Provider = stats is null || Stream is null ? null : new ProviderReport(
                Source!.Description,
                stats.RecordsRead,
                stats.DocumentsYielded,
                _providerCounters?.ItemsOut ?? 0,
                stats.BytesRead,
                Stream.OtherRanks,
                Stream.ResumeSkipped,
                Settings.Provider.Rank.Rank,
                Settings.Provider.Rank.WorldSize,
                stats.SkippedByReason,
                stats.Examples,
                null,
                stats.Resumes,
                Stream.ResumeFilesSkipped)
            {
                Sharding = Settings.Provider.GlobalOrder ? "global" : "local",
                Redealt = Settings.Redealt?.Description,
            },
            Transport = TransportAccount(),
            Batcher = Batcher is null ? null : new BatcherReport(Batcher.Workers, Batcher.EmptyDocuments, SequenceLength, Settings.Batcher.BatchSize, Batcher.PaddingFraction, Context!.Counters.Snapshot()),
            Settings = new SettingsReport(Settings.Seed, SequenceLength, Settings.Batcher.BatchSize, Settings.Provider.Epochs, Settings.Provider.ShuffleBuffer, Settings.MaxSteps, Settings.Batcher.TaskSettings.Keys.ToDictionary(k => k, k => Settings.Batcher.TaskSettings.TryGetText(k, out string? v) ? v : string.Empty)),
        };
    }

    /// <summary>Seconds from the pipeline's start to the first batch the consumer took (or the batcher sent, for a loader); null before one.</summary>
    private double? FirstBatchSeconds()
    {
        long first = ConsumerStage?.FirstInTimestamp ?? _batcherCounters?.FirstOutTimestamp ?? 0;
        return first == 0 || _pipelineStart == 0 ? null : Stopwatch.GetElapsedTime(_pipelineStart, first).TotalSeconds;
    }

    /// <summary>The ZeroMQ end's account, when batches crossed processes over ZeroMQ.</summary>
    private TransportReport? TransportAccount()
    {
        if ((_writer is PositionStampingWriter stamping ? stamping.Inner : _writer) is ZeroMqBatchWriter loader)
        {
            ZeroMqReport r = loader.Report;
            return new TransportReport(loader.BoundEndpoint, ZeroMqProtocol.Version, r.Consumers, r.Lost, r.Sent, r.Acknowledged, r.Redelivered, r.Returned, r.Undeliverable, r.ByConsumer, r.SequencesByConsumer,
                Refused: r.Refused, InFlightAtStop: r.InFlightAtStop, IgnoredAcks: r.IgnoredAcks, Unaccounted: r.Unbalanced(), EndsUnsent: r.EndsUnsent, Unauthorized: r.Unauthorized, Throttled: r.Throttled);
        }
        IBatchReader? reader = Reader is PeekedBatchReader peeked ? peeked.Inner : Reader;
        IReadOnlyList<IBatchReader> readers = reader is MergedBatchReader merged ? merged.Readers : reader is null ? [] : [reader];
        ZeroMqBatchReader[] ends = readers.OfType<ZeroMqBatchReader>().ToArray();
        if (ends.Length == 0)
        {
            return null;
        }
        return new TransportReport(string.Join(",", ends.Select(e => e.Description)), ZeroMqProtocol.Version, Received: ends.Sum(e => e.Batches),
            ReceivedSequences: ends.Length == 1 ? ends[0].Received.ToString() : null, StreamTotals: ends.Length == 1 ? ends[0].EndTotals : null);
    }

    /// <summary>
    /// The stage busiest over the whole run (a pool's busy time over its workers): the one the others wait for. A
    /// stage that finished early is measured against the whole run too, not its own short life.
    /// </summary>
    private string? Bottleneck()
    {
        string? name = null;
        double highest = -1;
        double run = Resources?.PipelineSeconds ?? 0;
        foreach (StageSnapshot stage in Pipeline.Stages.Select(c => c.Snapshot()))
        {
            double capacity = Math.Max(run, stage.WallSeconds) * (stage.WorkerBusySeconds is null ? 1 : Math.Max(1, Batcher?.Workers ?? 1));
            double utilization = capacity > 0 ? (stage.WorkerBusySeconds ?? stage.BusySeconds) / capacity : 0;
            if (utilization > highest)
            {
                (name, highest) = (stage.Name, utilization);
            }
        }
        return name;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        if (Reader is not null)
        {
            await Reader.DisposeAsync().ConfigureAwait(false);
        }
        if (_consumer is not null)
        {
            await _consumer.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>What the pipeline's run cost the process: its time, allocations, GC pauses and memory.</summary>
internal sealed record ResourceReport(double PipelineSeconds, long AllocatedBytes, double GcPauseSeconds, long PeakWorkingSet, double CpuSeconds);
