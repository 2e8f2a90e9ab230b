using System.Globalization;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Tasks;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Cli.Hosting;

/// <summary>Which services this process runs.</summary>
public enum RunRole
{
    /// <summary>Provider, batcher, transport and device in one process.</summary>
    All,

    /// <summary>Provider and batcher; batches leave through a stream transport.</summary>
    Loader,

    /// <summary>Batches arrive through a stream transport; the device trains.</summary>
    Device,
}

/// <summary>The provider's part of a run: what to read, how, and this rank's share of it.</summary>
public sealed record ProviderRunSettings
{
    /// <summary>The <c>--source</c> values: paths, URLs, folders, globs, @lists, or the built-in corpus.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [SourceFactory.BuiltInName];

    /// <summary>One weight per source to mix them, or null to read them as one source.</summary>
    public IReadOnlyList<double>? Weights { get; init; }

    /// <summary>Format, columns, format options, bad-record policy and HTTP timeouts.</summary>
    public SourceSettings Reading { get; init; } = new();

    /// <summary>Passes over the source; 0 repeats until the run's limit.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Parts of a many-part source read together and taken in turns (<see cref="Provider.Streaming.DocumentStreamOptions.Interleave"/>); 1 takes each whole.</summary>
    public int Interleave { get; init; } = 8;

    /// <summary>Streaming shuffle buffer, in documents; 0 keeps source order.</summary>
    public int ShuffleBuffer { get; init; } = 1024;

    /// <summary>Documents the shuffle buffer holds before the first leaves; null for the provider's default.</summary>
    public int? ShuffleStart { get; init; }

    /// <summary>This process's rank and the world size.</summary>
    public RankInfo Rank { get; init; } = RankInfo.Single;

    /// <summary>
    /// <c>--sharding global</c>: every rank reads the source in one order and takes every Nth document of it, so a resume
    /// may change the number of ranks; false (local) has each rank read only its share.
    /// </summary>
    public bool GlobalOrder { get; init; }

    /// <summary>The sources as one line, for messages.</summary>
    public string Description => string.Join(' ', Sources);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (Epochs < 0)
        {
            throw new ArgumentException($"--epochs {Epochs}: must be 0 (unbounded) or more.");
        }
        if (Interleave < 1)
        {
            throw new ArgumentException($"--interleave {Interleave}: expected a number of files, 1 or more (1 takes each file whole, in turn).");
        }
        if (ShuffleBuffer < 0)
        {
            throw new ArgumentException($"--shuffle-buffer {ShuffleBuffer}: must be 0 (source order) or more.");
        }
        if (Weights is not null && Weights.Count != Sources.Count)
        {
            throw new ArgumentException($"--weights: give one weight per --source ({Sources.Count} --source, {Weights.Count} weights).");
        }
    }
}

/// <summary>The batcher's part of a run: the tokenizer, the shapes and the task's settings.</summary>
public sealed record BatcherRunSettings
{
    public TokenizerSettings Tokenizer { get; init; } = new();

    /// <summary>
    /// True when the tokenizer was chosen (<c>--vocab</c>, <c>--tokenizer</c>), not defaulted: a device then checks the
    /// frames were made with it, else it takes their vocabulary.
    /// </summary>
    public bool TokenizerGiven { get; init; }

    /// <summary>Tokens per row, special tokens included.</summary>
    public int SequenceLength { get; init; } = 128;

    /// <summary>True when <see cref="SequenceLength"/> was chosen, not defaulted: a device then checks the frames have it, else it takes theirs.</summary>
    public bool SequenceLengthGiven { get; init; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; init; } = 8;

    public TaskSettings TaskSettings { get; init; } = TaskSettings.Empty;

    /// <summary>Tokenizer workers.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Classifiers: <c>--labels</c> (a file or a list), or null to take them from the source.</summary>
    public string? Labels { get; init; }

    /// <summary>Classifiers: which documents are held out for evaluation (<see cref="HeldOutSplit.Parse"/>, drawn from the run's seed).</summary>
    public string EvalSplit { get; init; } = HeldOutSplit.DefaultRule;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (SequenceLength is < 8 or > 65536)
        {
            throw new ArgumentException($"--seq-len {SequenceLength}: must be between 8 and 65536.");
        }
        if (BatchSize < 1)
        {
            throw new ArgumentException($"--batch-size {BatchSize}: must be at least 1.");
        }
        if (Workers < 1)
        {
            throw new ArgumentException($"--workers {Workers}: must be at least 1.");
        }
        try
        {
            _ = HeldOutSplit.Parse(EvalSplit, seed: 0);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(ex.Message, ex);
        }
    }
}

/// <summary>How batches travel: which services run here and the ends of the transport between them.</summary>
public sealed record TransportRunSettings
{
    public RunRole Role { get; init; } = RunRole.All;

    /// <summary>Loader role: where frames go.</summary>
    public string Out { get; init; } = "-";

    /// <summary>Device role: where frames come from.</summary>
    public string In { get; init; } = "-";

    /// <summary>Capacity of the bounded channels between services, in batches.</summary>
    public int Queue { get; init; } = 8;

    /// <summary>ZeroMQ ends: the peer timeout (heartbeats go out every fifth of it) and the consumers a loader waits for.</summary>
    public Transport.ZeroMq.ZeroMqOptions ZeroMq { get; init; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (Queue < 1)
        {
            throw new ArgumentException($"--queue {Queue}: must be at least 1.");
        }
    }
}

/// <summary>The device's part of a run: the model, where it runs, how it trains and where it saves.</summary>
public sealed record DeviceRunSettings
{
    /// <summary>The <c>--model</c> preset.</summary>
    public string ModelSize { get; init; } = "tiny";

    /// <summary>auto, cpu or cuda[:N].</summary>
    public string Device { get; init; } = "auto";

    /// <summary>CPU threads for TorchSharp (0: its default).</summary>
    public int TorchThreads { get; init; }

    /// <summary>Optimizer, schedule, logging and evaluation (the trainer's own defaults).</summary>
    public TrainerOptions Training { get; init; } = new();

    /// <summary>The checkpoint folder to write, or null for none. See <see cref="CheckpointUnderRuns"/>.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>
    /// A Hugging Face model folder the model starts from (<c>--init-from DIR</c> naming one): its architecture, size and
    /// weights replace the <see cref="ModelSize"/> preset. Null otherwise.
    /// </summary>
    public string? Pretrained { get; init; }

    /// <summary>False when <see cref="Pretrained"/> came from <c>--model DIR</c>: its architecture, trained from scratch.</summary>
    public bool PretrainedWeights { get; init; } = true;

    /// <summary>
    /// True when <see cref="Checkpoint"/> is a folder of runs, in which each run claims a new folder: the default
    /// <c>runs/&lt;task&gt;</c>, or any <c>--checkpoint DIR</c> of a run of several ranks (each rank's folder and its
    /// <c>latest-rank&lt;r&gt;</c> in it, so ranks never write one folder).
    /// </summary>
    public bool CheckpointUnderRuns { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (Training.ScheduleSteps is < 1)
        {
            throw new ArgumentException($"--schedule-steps {Training.ScheduleSteps}: must be at least 1.");
        }
    }
}

/// <summary>Inference's part of a run (<c>streamloader infer</c>): the model to run and where its rows go.</summary>
public sealed record InferRunSettings
{
    /// <summary>The trained checkpoint folder.</summary>
    public required string Checkpoint { get; init; }

    /// <summary>Its manifest.</summary>
    public required CheckpointManifest Manifest { get; init; }

    /// <summary>The sequence length the model was trained with: its positions (rows may be shorter, never longer).</summary>
    public required int TrainedSequenceLength { get; init; }

    /// <summary>
    /// True when <see cref="Checkpoint"/> is a Hugging Face sequence-classification folder rather than a StreamLoader
    /// checkpoint: the weights are the folder's safetensors (<see cref="Manifest"/> is made from its config.json).
    /// </summary>
    public bool HuggingFaceFolder { get; init; }

    /// <summary>The output file; its extension names the format.</summary>
    public required string Output { get; init; }

    /// <summary>Keep only rows with one of these labels; empty keeps all.</summary>
    public IReadOnlySet<string> FilterBy { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>A chunk is committed once it holds this many documents.</summary>
    public int ChunkDocuments { get; init; } = 4096;

    /// <summary>… or once this long has passed since the last commit.</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>How a run reports.</summary>
public sealed record ReportingRunSettings
{
    /// <summary>Where the machine-readable report goes, or null.</summary>
    public string? SummaryJson { get; init; }

    /// <summary>auto, live, plain or none.</summary>
    public string Progress { get; init; } = "auto";
}

/// <summary>
/// Everything a run needs, nested by the service each setting belongs to, and what was chosen rather than defaulted
/// where that matters. Each nested record holds its settings' defaults (the command-line options take theirs from
/// there) and checks its own ranges (<see cref="Validate"/>). The console only parses (<c>CommandLineSettings</c>):
/// a run can be hosted without System.CommandLine.
/// </summary>
public sealed record RunSettings
{
    /// <summary>Steps the built-in corpus trains for when --max-steps is not given.</summary>
    public const long BuiltInDefaultSteps = 200;

    public required string Task { get; init; }

    /// <summary>Seed for shuffling, masking and model initialisation.</summary>
    public int Seed { get; init; }

    /// <summary>The run's limit: optimizer steps (train), batches (bench, inspect, loader); null for none.</summary>
    public long? MaxSteps { get; init; }

    public ProviderRunSettings Provider { get; init; } = new();

    public BatcherRunSettings Batcher { get; init; } = new();

    public TransportRunSettings Transport { get; init; } = new();

    public DeviceRunSettings Device { get; init; } = new();

    public ReportingRunSettings Reporting { get; init; } = new();

    /// <summary>Inference's settings; null for the other runs.</summary>
    public InferRunSettings? Infer { get; init; }

    /// <summary>The checkpoint folder being resumed, or null.</summary>
    public string? ResumeFolder { get; init; }

    /// <summary>The manifest of <see cref="ResumeFolder"/>.</summary>
    public CheckpointManifest? ResumeManifest { get; init; }

    /// <summary>
    /// A resume with another number of ranks than the run had: where the global order starts again and how it is
    /// dealt now (<see cref="Provider.Streaming.ElasticResume"/>); null otherwise.
    /// </summary>
    public Provider.Streaming.ElasticPlan? Redealt { get; init; }

    /// <summary>
    /// The checkpoint folders this run's stream was re-dealt from: by this run (<see cref="Redealt"/>), or by the run
    /// it continues. Its checkpoints record them (<see cref="CheckpointManifest.RedealtFrom"/>).
    /// </summary>
    public IReadOnlyList<string>? RedealtFrom { get; init; }

    /// <summary>True when the task was chosen (<c>--task</c>); a device then checks the frames are its batches, else it takes theirs.</summary>
    public bool TaskGiven { get; init; }

    /// <summary>The settings a checkpoint of this run records, by option name (the console's <c>ResumeArguments</c>).</summary>
    public IReadOnlyDictionary<string, string[]> Recorded { get; init; } = new Dictionary<string, string[]>();

    /// <summary>Notes about defaults applied, shown to the user at start.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>
    /// Checks every service's settings and those that span services; throws an <see cref="ArgumentException"/> naming
    /// the setting. A host calls it whoever built the settings: the console, a test or another program.
    /// </summary>
    /// <param name="training">True for a run that trains (or could): <c>--epochs 0</c> then needs a step limit.</param>
    public RunSettings Validate(bool training = true)
    {
        if (MaxSteps is < 1)
        {
            throw new ArgumentException($"--max-steps {MaxSteps}: must be 0 (no limit) or more.");
        }
        Provider.Validate();
        Batcher.Validate();
        Transport.Validate();
        Device.Validate();
        if (Provider.Epochs == 0 && MaxSteps is null && Transport.Role != RunRole.Loader && training)
        {
            throw new ArgumentException("--epochs 0 repeats the source forever; give --max-steps too.");
        }
        return this;
    }
}
