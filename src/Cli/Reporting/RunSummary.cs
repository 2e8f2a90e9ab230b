using System.Text.Json.Serialization;
using StreamLoader.Core.Pipeline;

namespace StreamLoader.Cli.Reporting;

/// <summary>The machine-readable run report written by <c>--summary-json</c>. Schema: docs/SUMMARY.md.</summary>
public sealed record RunSummary
{
    /// <summary>Schema identifier; bumped when fields change meaning.</summary>
    public string Schema { get; init; } = "streamloader.run-summary/2";

    public required string Command { get; init; }
    public required string Task { get; init; }
    public required string Role { get; init; }
    public required string Source { get; init; }
    public required string Tokenizer { get; init; }
    public required string Outcome { get; init; }
    public string? Error { get; init; }

    /// <summary>Documents tokenized by the batcher (0 for the device role, which reads batches).</summary>
    public long Documents { get; init; }

    /// <summary>
    /// Tokens in the batches this process's end took, not counting padding (special tokens count): trained on (the
    /// main job, the device role), taken by the sink (bench) or sent (the loader role).
    /// </summary>
    public long Tokens { get; init; }

    /// <summary>Tokens the tokenizer produced (before windowing, special tokens and padding); null without a batcher.</summary>
    public long? TokensTokenized { get; init; }

    /// <summary>Batches that reached the device stage (or the transport, for the loader role).</summary>
    public long Batches { get; init; }

    /// <summary>Optimizer steps this run took.</summary>
    public long Steps { get; init; }

    /// <summary>Optimizer steps over every run that led here (differs from <see cref="Steps"/> after --resume).</summary>
    public long? TotalSteps { get; init; }

    public double? LossFirst { get; init; }
    public double? LossLast { get; init; }
    public double WallSeconds { get; init; }

    /// <summary><see cref="Documents"/> over <see cref="WallSeconds"/>.</summary>
    public double DocumentsPerSecond { get; init; }

    /// <summary><see cref="Tokens"/> over <see cref="WallSeconds"/>.</summary>
    public double TokensPerSecond { get; init; }

    /// <summary><see cref="Batches"/> over <see cref="WallSeconds"/>.</summary>
    public double BatchesPerSecond { get; init; }

    public required IReadOnlyList<StageSnapshot> Stages { get; init; }

    /// <summary>Seconds the pipeline ran (from its start to the last stage's end; start-up and the summary excluded).</summary>
    public double? PipelineSeconds { get; init; }

    /// <summary>Seconds from the pipeline's start to the first batch reaching the end of this process (the consumer, or the transport for a loader).</summary>
    public double? FirstBatchSeconds { get; init; }

    /// <summary>Seconds from the process's start to the first batch (runtime start-up, settings and tokenizer loading included).</summary>
    public double? FirstBatchAfterProcessStartSeconds { get; init; }

    /// <summary>Tokens tokenized over <see cref="PipelineSeconds"/>: the loader's own rate.</summary>
    public double? PipelineTokensPerSecond { get; init; }

    /// <summary>bench: the raw tokenizer alone on the same documents, one thread.</summary>
    public double? TokenizerSingleThreadTokensPerSecond { get; init; }

    /// <summary>bench: the raw tokenizer alone on the same documents on --workers threads: the ceiling.</summary>
    public double? TokenizerCeilingTokensPerSecond { get; init; }

    /// <summary>bench: <see cref="PipelineTokensPerSecond"/> over <see cref="TokenizerCeilingTokensPerSecond"/>.</summary>
    public double? Efficiency { get; init; }

    /// <summary>bench: documents the ceiling was measured on.</summary>
    public long? CeilingDocuments { get; init; }

    /// <summary>bench: seconds the provider alone took to read the <see cref="CeilingDocuments"/> once more (one pass, opening the input included).</summary>
    public double? ProviderAloneSeconds { get; init; }

    /// <summary>bench: those documents' tokens over <see cref="ProviderAloneSeconds"/>: about the most the reader can feed, whatever the workers.</summary>
    public double? ProviderTokensPerSecond { get; init; }

    /// <summary>bench: the raw tokenizer on one thread while another reads the same documents over and over; null on one core, or when that reader failed.</summary>
    public double? TokenizerBesideProviderTokensPerSecond { get; init; }

    /// <summary>
    /// bench: tokens/s of the provider's serial stage: the documents' tokens over <see cref="ProviderSerialSeconds"/>,
    /// the time to read and frame their records without decoding them, with the stream's reading threads side by side.
    /// For a format that decodes on its reading thread, that decode is included.
    /// </summary>
    public double? ProviderSerialTokensPerSecond { get; init; }

    /// <summary>
    /// bench: seconds the serial stage took over the same records as the stream reads them: one file on its reading
    /// thread; a many-file source's parts each timed alone and scheduled as the stream reads them (a unit's first
    /// <c>--parts-at-once</c> parts on readers of their own, the rest on the stream's thread), those
    /// <see cref="ProviderSerialReaders"/> threads side by side, each on a core of its own.
    /// </summary>
    public double? ProviderSerialSeconds { get; init; }

    /// <summary>bench: the serial stage's reading threads side by side: 1 for one file (or parts taken whole); for parts taken in turns, those with readers of their own and the stream's thread when it reads some.</summary>
    public int? ProviderSerialReaders { get; init; }

    /// <summary>bench: the serial stage's parts read one after another on one thread (equal to <see cref="ProviderSerialSeconds"/> with one reader).</summary>
    public double? ProviderSerialOneAtATimeSeconds { get; init; }

    /// <summary>bench: how many tokenizer threads the serial stage can keep busy: its tokens/s over one tokenizer thread's.</summary>
    public double? TokenizerThreadsFed { get; init; }

    /// <summary>
    /// bench: the CPU-bound limit of this machine, L = cores / (1 / tokenizer tokens/s per thread + 1 / provider tokens
    /// per CPU-second): what the two stages could reach if every core did one or the other, nothing else.
    /// </summary>
    public double? CpuBoundLimitTokensPerSecond { get; init; }

    /// <summary>bench: <see cref="PipelineTokensPerSecond"/> over <see cref="CpuBoundLimitTokensPerSecond"/>.</summary>
    public double? FractionOfCpuBoundLimit { get; init; }

    /// <summary>bench: the task's batch builder alone on the ceiling's documents' tokens, one thread: its tokens per CPU-second.</summary>
    public double? BatchBuilderTokensPerSecond { get; init; }

    /// <summary>
    /// bench: L with the batch builder's CPU per token added, cores / (1 / tokenizer per thread + 1 / provider + 1 /
    /// builder): what a pipeline that also builds batches could reach if handing work between threads cost nothing.
    /// </summary>
    public double? CpuBoundLimitWithBatchingTokensPerSecond { get; init; }

    /// <summary>bench: <see cref="PipelineTokensPerSecond"/> over <see cref="CpuBoundLimitWithBatchingTokensPerSecond"/>.</summary>
    public double? FractionOfCpuBoundLimitWithBatching { get; init; }

    /// <summary>The stage busiest for its share of the run: the one the others waited for.</summary>
    public string? BottleneckStage { get; init; }

    /// <summary>Bytes the process allocated while the pipeline ran (all threads).</summary>
    public long? AllocatedBytes { get; init; }

    /// <summary><see cref="AllocatedBytes"/> per batch (tokenizer's own allocations included).</summary>
    public double? AllocatedBytesPerBatch { get; init; }

    /// <summary>Of <see cref="AllocatedBytesPerBatch"/>: the tokenizer's own allocations.</summary>
    public double? TokenizerAllocatedBytesPerBatch { get; init; }

    /// <summary>Of <see cref="AllocatedBytesPerBatch"/>: the documents' text, the strings the provider hands over.</summary>
    public double? DocumentTextBytesPerBatch { get; init; }

    /// <summary>Of <see cref="AllocatedBytesPerBatch"/>: everything else (reading, batching, transport, the consumer).</summary>
    public double? OtherAllocatedBytesPerBatch { get; init; }

    /// <summary>Time the garbage collector paused the process while the pipeline ran.</summary>
    public double? GcPauseSeconds { get; init; }

    /// <summary>The process's peak resident memory.</summary>
    public long? PeakRssBytes { get; init; }

    /// <summary>CPU time the whole process used (user and kernel, every thread) while the pipeline ran.</summary>
    public double? PipelineCpuSeconds { get; init; }

    /// <summary><see cref="PipelineCpuSeconds"/> over the pipeline's wall time: how many cores were busy on average.</summary>
    public double? CoresBusy { get; init; }

    /// <summary>Cores the process may use (<see cref="Environment.ProcessorCount"/>).</summary>
    public int? Cores { get; init; }
    public ProviderReport? Provider { get; init; }
    public BatcherReport? Batcher { get; init; }
    public DeviceReport? Device { get; init; }

    /// <summary>infer: the output, the rows, the batching and its comparison with the other layout; null for other runs.</summary>
    public InferenceReport? Inference { get; init; }

    /// <summary>Split roles over ZeroMQ: what the loader's end did with every batch and consumer, or what a device's end received; null otherwise.</summary>
    public TransportReport? Transport { get; init; }
    public required SettingsReport Settings { get; init; }
}

/// <summary>What an inference run wrote and how it batched.</summary>
/// <param name="Output">The file this rank finished (or works on): the output, or its part.</param>
/// <param name="Format">jsonl, arrow or parquet.</param>
/// <param name="Checkpoint">The model's checkpoint folder.</param>
/// <param name="ModelTask">The task it was trained for (classify, multilabel).</param>
/// <param name="ModelHash">The first 16 hex digits of the SHA-256 of its weights, as every row carries it.</param>
/// <param name="TokenizerHash">The same of the tokenizer.</param>
/// <param name="Device">Where the model ran.</param>
/// <param name="Documents">Documents this run wrote or filtered out.</param>
/// <param name="Rows">Rows this run committed.</param>
/// <param name="RowsTotal">Rows in the finished output (earlier runs' included); null while unfinished.</param>
/// <param name="DocumentsTotal">Documents the finished output accounts for; null while unfinished.</param>
/// <param name="FilteredOut">Rows --filter-by left out.</param>
/// <param name="Empty">Documents without tokens, written unclassified (status "empty").</param>
/// <param name="Truncated">Documents classified on their first tokens only (status "truncated").</param>
/// <param name="Predicted">Documents per predicted label, before filtering.</param>
/// <param name="Chunks">Chunks this run committed.</param>
/// <param name="ResumedAfterRows">Rows earlier runs had committed, which this run continued after.</param>
/// <param name="ResumedAfterDocuments">Documents those rows accounted for.</param>
/// <param name="DiscardedFiles">Uncommitted files a killed run had left, discarded.</param>
/// <param name="AlreadyComplete">True when an earlier run had finished the output: nothing was done.</param>
/// <param name="Batching">sorted or fixed.</param>
/// <param name="SortWindow">Documents sorted together.</param>
/// <param name="MaxTokensPerBatch">Sorted: the token budget of a batch.</param>
/// <param name="BatchSize">Fixed: rows per batch.</param>
/// <param name="Written">The batches whose predictions were written.</param>
/// <param name="Comparison">The first documents run in both layouts, timed side by side; null when none were.</param>
/// <param name="MemoryRetries">Batches halved because the device ran out of memory.</param>
/// <param name="RowLimit">Rows a batch was cut to after running out of memory; null when it never did.</param>
/// <param name="Marker">The completion marker, once the output is finished.</param>
public sealed record InferenceReport(
    string Output,
    string Format,
    string Checkpoint,
    string ModelTask,
    string ModelHash,
    string TokenizerHash,
    string Device,
    long Documents,
    long Rows,
    long? RowsTotal,
    long? DocumentsTotal,
    long FilteredOut,
    long Empty,
    long Truncated,
    IReadOnlyDictionary<string, long> Predicted,
    long Chunks,
    long ResumedAfterRows,
    long ResumedAfterDocuments,
    int DiscardedFiles,
    bool AlreadyComplete,
    string Batching,
    int SortWindow,
    int MaxTokensPerBatch,
    int BatchSize,
    LayoutReport? Written,
    ComparisonReport? Comparison,
    long MemoryRetries,
    int? RowLimit,
    string? Marker);

/// <summary>A ZeroMQ end's account (protocol <see cref="Protocol"/>).</summary>
/// <param name="Endpoint">The endpoint bound (loader) or connected to (device).</param>
/// <param name="Protocol">The protocol version spoken.</param>
/// <param name="Consumers">Loader: consumers that joined.</param>
/// <param name="Lost">Loader: consumers that died or fell silent past the peer timeout.</param>
/// <param name="Sent">Loader: distinct batches taken into the transport (acknowledged + returned + undeliverable + in flight at the stop).</param>
/// <param name="Acknowledged">Loader: batches a consumer acknowledged (each once).</param>
/// <param name="Redelivered">Loader: batches sent again after their consumer left without acknowledging them.</param>
/// <param name="Returned">Loader: batches left when every consumer had said goodbye.</param>
/// <param name="Undeliverable">Loader: batches no consumer could take (theirs were lost, none was left); non-zero fails the run.</param>
/// <param name="ByConsumer">Loader: batches each consumer acknowledged, by name.</param>
/// <param name="SequencesByConsumer">Loader: which batches each consumer acknowledged, as ranges of sequences ("0-41,44").</param>
/// <param name="Received">Device: batches received.</param>
/// <param name="ReceivedSequences">Device: which, as ranges of sequences.</param>
/// <param name="StreamTotals">Device: the end frame's account of the stream (acknowledged over all consumers, consumers, redelivered).</param>
/// <param name="Refused">Loader: peers refused (another protocol, a malformed HELLO, a command before HELLO) and consumers dropped for breaking the protocol.</param>
/// <param name="InFlightAtStop">Loader: batches taken and not acknowledged when the stream stopped on an error or a signal.</param>
/// <param name="IgnoredAcks">Loader: acknowledgements of a batch not in flight to that consumer (repeated, another's, never sent).</param>
/// <param name="Unaccounted">Loader: null when every batch taken is accounted for (the invariant above); otherwise what differs.</param>
/// <param name="Unauthorized">Loader: of the refused, consumers that did not prove an authorized CURVE key (--curve-keys).</param>
/// <param name="EndsUnsent">Loader: consumers that read nothing within the peer timeout after the stream ended, so never got its end frame.</param>
/// <param name="Throttled">Loader: messages dropped unanswered from peers that had not joined, past the loader's rate per peer.</param>
public sealed record TransportReport(
    string Endpoint,
    int Protocol,
    int? Consumers = null,
    int? Lost = null,
    long? Sent = null,
    long? Acknowledged = null,
    long? Redelivered = null,
    long? Returned = null,
    long? Undeliverable = null,
    IReadOnlyDictionary<string, long>? ByConsumer = null,
    IReadOnlyDictionary<string, string>? SequencesByConsumer = null,
    long? Received = null,
    string? ReceivedSequences = null,
    IReadOnlyDictionary<string, string>? StreamTotals = null,
    int? Refused = null,
    long? InFlightAtStop = null,
    long? IgnoredAcks = null,
    string? Unaccounted = null,
    long? EndsUnsent = null,
    int? Unauthorized = null,
    long? Throttled = null);

/// <summary>One batch layout's time in the model and padding.</summary>
public sealed record LayoutReport(string Layout, long Documents, long Batches, double Seconds, double? DocumentsPerSecond, double? PaddingFraction);

/// <summary>The same documents in both layouts, in the same run: the speed-up of sorted batching over fixed.</summary>
/// <param name="Documents">Documents run in both.</param>
/// <param name="Sorted">Their sorted batches.</param>
/// <param name="Fixed">Their fixed batches.</param>
/// <param name="SortedSpeedup">Fixed seconds over sorted seconds.</param>
/// <param name="LabelDisagreements">Documents whose top label differed between the layouts.</param>
public sealed record ComparisonReport(long Documents, LayoutReport Sorted, LayoutReport Fixed, double? SortedSpeedup, long LabelDisagreements);

/// <summary>What the provider read, yielded and skipped.</summary>
public sealed record ProviderReport(
    string Description,
    long RecordsRead,
    long DocumentsYielded,
    long DocumentsEmitted,
    long BytesRead,
    long OtherRanks,
    long ResumeSkipped,
    int Rank,
    int WorldSize,
    IReadOnlyDictionary<string, long> Skipped,
    IReadOnlyDictionary<string, IReadOnlyList<string>> SkipExamples,
    string? PositionSaved,
    long HttpResumes,
    long ResumeFilesSkipped)
{
    /// <summary><c>--sharding</c>: <c>local</c> (each rank reads its share) or <c>global</c> (one order dealt among the ranks).</summary>
    public string Sharding { get; init; } = "local";

    /// <summary>How a resume with another number of ranks re-dealt the stream ("resumed 4 ranks as 2: global position …"); null otherwise.</summary>
    public string? Redealt { get; init; }
}

/// <summary>Batcher details.</summary>
/// <param name="Workers">Tokenizer workers.</param>
/// <param name="EmptyDocuments">Documents that gave no tokens.</param>
/// <param name="SequenceLength">Tokens per row.</param>
/// <param name="BatchSize">Rows per batch.</param>
/// <param name="PaddingFraction">The share of the batches' input positions (rows × seq, padding rows included) that are padding.</param>
/// <param name="Skipped">Documents the task's builder skipped or cut, by reason (no_label, unknown_label, truncated …).</param>
public sealed record BatcherReport(int Workers, long EmptyDocuments, int SequenceLength, int BatchSize, double? PaddingFraction, IReadOnlyDictionary<string, long> Skipped);

/// <summary>A classifier's held-out evaluation: the model at each evaluation, and the baselines fitted in the same run.</summary>
/// <param name="HeldOut">Which documents were held out.</param>
/// <param name="Labels">The label names.</param>
/// <param name="Evaluations">The model's scores after each evaluation.</param>
/// <param name="Baselines">Majority class and bag-of-words logistic regression, fitted on the same training rows, scored on the same held-out rows.</param>
/// <param name="RowsNotKept">Held-out rows beyond the evaluator's cap: not trained on, not evaluated.</param>
public sealed record EvaluationReport(string HeldOut, IReadOnlyList<string> Labels, IReadOnlyList<EvaluationPoint> Evaluations, IReadOnlyDictionary<string, ScoreReport> Baselines, long RowsNotKept);

/// <summary>The model's held-out scores after a step.</summary>
public sealed record EvaluationPoint(long Step, long Rows, double Accuracy, double MicroF1, double MacroF1);

/// <summary>Held-out scores.</summary>
public sealed record ScoreReport(long Rows, double Accuracy, double MicroF1, double MacroF1);

/// <summary>Device details.</summary>
/// <param name="Device">The torch device ("cpu", "cuda:0").</param>
/// <param name="Model">The model size preset.</param>
/// <param name="Libtorch">Where libtorch was loaded from.</param>
/// <param name="BatchesWithoutTargets">Batches with nothing to learn from (nothing masked), not stepped on.</param>
/// <param name="Checkpoint">The checkpoint folder this run wrote (also after a failure or Ctrl+C), or null when it wrote none.</param>
/// <param name="ResumedFrom">The checkpoint folder this run continued, or null.</param>
/// <param name="LossCurve">Up to 200 losses, evenly spaced over the run's steps.</param>
/// <param name="Evaluation">A classifier's held-out evaluation; null for other tasks or without held-out rows.</param>
/// <param name="InitializedFrom">The checkpoint whose weights started the model (<c>--init-from</c>), or null.</param>
public sealed record DeviceReport(string Device, string Model, string Libtorch, long BatchesWithoutTargets, string? Checkpoint, string? ResumedFrom, IReadOnlyList<double> LossCurve, EvaluationReport? Evaluation = null, string? InitializedFrom = null);

/// <summary>The settings that shape the data, echoed for reproducibility.</summary>
public sealed record SettingsReport(int Seed, int SequenceLength, int BatchSize, int Epochs, int ShuffleBuffer, long? MaxSteps, IReadOnlyDictionary<string, string> TaskSettings);

/// <summary>What <c>streamloader scan</c> found in a source (schema <c>streamloader.scan-summary/1</c>).</summary>
/// <param name="Schema">The schema name and version.</param>
/// <param name="Source">What was scanned, as given.</param>
/// <param name="Formats">The format of each file, as detected (or forced), by file.</param>
/// <param name="Documents">Documents the source yielded.</param>
/// <param name="Characters">UTF-16 characters of text over all documents.</param>
/// <param name="RecordsRead">Records (lines, rows, pages) read.</param>
/// <param name="BytesRead">Decompressed bytes read.</param>
/// <param name="RawBytesRead">Raw (compressed) bytes read.</param>
/// <param name="Skipped">Skipped records by reason.</param>
/// <param name="SkipExamples">Up to three examples per reason, each naming the file and the line or offset.</param>
/// <param name="HttpResumes">Dropped connections resumed with a Range request.</param>
/// <param name="Seconds">Wall time of the scan.</param>
/// <param name="DocumentsPerSecond">Documents per second.</param>
/// <param name="MegabytesPerSecond">Decompressed MB (10^6 bytes) per second.</param>
/// <param name="Decompression">Per file, how its compression is undone: none, or the compression and on how many threads.</param>
public sealed record ScanSummary(
    string Schema,
    string Source,
    IReadOnlyDictionary<string, string> Formats,
    long Documents,
    long Characters,
    long RecordsRead,
    long BytesRead,
    long RawBytesRead,
    IReadOnlyDictionary<string, long> Skipped,
    IReadOnlyDictionary<string, IReadOnlyList<string>> SkipExamples,
    long HttpResumes,
    double Seconds,
    double DocumentsPerSecond,
    double MegabytesPerSecond,
    IReadOnlyDictionary<string, string> Decompression);

/// <summary>Source-generated JSON for --summary-json run reports (snake_case, no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunSummary))]
[JsonSerializable(typeof(ScanSummary))]
internal sealed partial class SummaryJsonContext : JsonSerializerContext
{
}
