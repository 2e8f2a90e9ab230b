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

    /// <summary>The stage busiest for its share of the run: the one the others waited for.</summary>
    public string? BottleneckStage { get; init; }

    /// <summary>Bytes the process allocated while the pipeline ran (all threads).</summary>
    public long? AllocatedBytes { get; init; }

    /// <summary><see cref="AllocatedBytes"/> per batch (tokenizer's own allocations included).</summary>
    public double? AllocatedBytesPerBatch { get; init; }

    /// <summary>Time the garbage collector paused the process while the pipeline ran.</summary>
    public double? GcPauseSeconds { get; init; }

    /// <summary>The process's peak resident memory.</summary>
    public long? PeakRssBytes { get; init; }
    public ProviderReport? Provider { get; init; }
    public BatcherReport? Batcher { get; init; }
    public DeviceReport? Device { get; init; }
    public required SettingsReport Settings { get; init; }
}

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
    long ResumeFilesSkipped);

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
    double MegabytesPerSecond);

/// <summary>Source-generated JSON for --summary-json run reports (snake_case, no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunSummary))]
[JsonSerializable(typeof(ScanSummary))]
internal sealed partial class SummaryJsonContext : JsonSerializerContext
{
}
