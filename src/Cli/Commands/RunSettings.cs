using System.CommandLine;
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

namespace StreamLoader.Cli.Commands;

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
}

/// <summary>The batcher's part of a run: the tokenizer, the shapes and the task's settings.</summary>
public sealed record BatcherRunSettings
{
    public TokenizerSettings Tokenizer { get; init; } = new();

    /// <summary>Tokens per row, special tokens included.</summary>
    public int SequenceLength { get; init; } = 128;

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; init; } = 8;

    public TaskSettings TaskSettings { get; init; } = TaskSettings.Empty;

    /// <summary>Tokenizer workers.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Classifiers: <c>--labels</c> (a file or a list), or null to take them from the source.</summary>
    public string? Labels { get; init; }

    /// <summary>Classifiers: the documents held out for evaluation.</summary>
    public HeldOutSplit EvalSplit { get; init; } = HeldOutSplit.None;
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
/// Everything a run needs, read once from the command line and validated, nested by the service each setting belongs
/// to. Each nested record holds its settings' defaults, and the command-line options take theirs from there.
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

    /// <summary>Options given on the command line (not defaulted), by name.</summary>
    public IReadOnlySet<string> Given { get; init; } = new HashSet<string>();

    /// <summary>The settings a checkpoint of this run records, by option name (see <see cref="ResumeArguments"/>).</summary>
    public IReadOnlyDictionary<string, string[]> Recorded { get; init; } = new Dictionary<string, string[]>();

    /// <summary>Notes about defaults applied, shown to the user at start.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Reads and validates the settings. Throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static RunSettings From(ParseResult result, bool training = true)
    {
        HashSet<string> given = GivenOptions(result);
        string? resumeFolder = null;
        CheckpointManifest? manifest = null;
        Provider.Streaming.ElasticPlan? redealt = null;
        IReadOnlyList<string>? redealtFrom = null;
        string? resumeNote = null;
        if (result.GetValue(CliOptions.Resume) is { } resume)
        {
            RankInfo environment = RankInfo.FromEnvironment();
            int? rank = result.GetValue(CliOptions.Rank) ?? (environment is { WorldSize: > 1 } ? environment.Rank : null);
            int? world = result.GetValue(CliOptions.WorldSize) ?? (environment is { WorldSize: > 1 } ? environment.WorldSize : null);
            ResumeTarget target = ResumeTarget.Resolve(resume, rank, world, System.Console.Error.WriteLine);
            (resumeFolder, manifest, redealt, redealtFrom, resumeNote) = (target.Folder, target.Manifest, target.Redealt, target.RedealtFrom, target.Note);
            // A device's settings are not a loader's: a loader resuming a device's checkpoint takes only its position.
            bool loaderFromDevice = manifest.Role == "device" && result.GetValue(CliOptions.Role) is "loader";
            if (!loaderFromDevice)
            {
                // Re-dealt among another number of ranks, the run's rank and world size are this run's own.
                result = ResumeArguments.Apply(result, manifest, resumeFolder, notCarried: redealt is null ? [] : [CliOptions.Rank, CliOptions.WorldSize]);
            }
        }
        // A resumed run keeps the schedule's horizon (--schedule-steps, else --max-steps) unless it is given a new one:
        // a new --max-steps re-spans the decay over the longer run, which is what extending a run means.
        RunSettings read = Read(result, training);
        return read with
        {
            Notes = resumeNote is null ? read.Notes : [.. read.Notes, resumeNote],
            Given = given,
            ResumeFolder = resumeFolder,
            ResumeManifest = manifest,
            Redealt = redealt,
            RedealtFrom = redealtFrom ?? manifest?.RedealtFrom,
            Recorded = ResumeArguments.Capture(result),
        };
    }

    /// <summary>The --weights values, or null when not given; one per --source, each positive.</summary>
    public static IReadOnlyList<double>? ReadWeights(ParseResult result)
    {
        if (result.GetValue(CliOptions.Weights) is not { } text)
        {
            return null;
        }
        var weights = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            weights.Add(double.TryParse(part, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double w) && w > 0 && !double.IsInfinity(w)
                ? w
                : throw new ArgumentException($"--weights {text}: expected positive numbers separated by commas, one per --source (0.7,0.3)."));
        }
        int sources = result.GetValue(CliOptions.Source)?.Length ?? 0;
        if (weights.Count != sources || sources < 2)
        {
            throw new ArgumentException($"--weights {text}: give one weight per --source, and at least two sources to mix ({sources} --source, {weights.Count} weight{(weights.Count == 1 ? string.Empty : "s")}).");
        }
        return weights;
    }

    /// <summary>The provider's settings: format, columns, format options, bad-record policy and HTTP timeouts.</summary>
    public static SourceSettings ReadSource(ParseResult result)
    {
        string format = result.GetValue(CliOptions.Format)!.ToLowerInvariant();
        BadRecordPolicy policy = result.GetValue(CliOptions.OnBadRecord)!.ToLowerInvariant() switch
        {
            "skip" => BadRecordPolicy.Skip,
            "fail" => BadRecordPolicy.Fail,
            string other => throw new ArgumentException($"--on-bad-record {other}: expected skip or fail."),
        };
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Option<string?> option in CliOptions.FormatOptions)
        {
            if (result.GetResult(option) is { Implicit: false } && result.GetValue(option) is { } value)
            {
                options[option.Name.TrimStart('-')] = value;
            }
        }
        string[] text = result.GetValue(CliOptions.TextField)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (text.Length == 0)
        {
            throw new ArgumentException("--text-column: expected a column name, or several separated by commas.");
        }
        var settings = new SourceSettings
        {
            Format = format,
            Columns = new SourceColumns
            {
                Text = text,
                Id = result.GetValue(CliOptions.IdField)!,
                // Unset (also in a checkpoint's settings), an optional "label" column; given, a required one.
                Label = result.GetValue(CliOptions.LabelColumn) ?? "label",
                TextGiven = result.GetResult(CliOptions.TextField) is { Implicit: false },
                LabelRequired = result.GetValue(CliOptions.LabelColumn) is not null,
            },
            FormatOptions = options,
            Lines = new LineReaderOptions { OnBadRecord = policy },
            Http = new HttpReadOptions
            {
                ConnectTimeout = Seconds(result, CliOptions.ConnectTimeout),
                ResponseTimeout = Seconds(result, CliOptions.ResponseTimeout),
                StallTimeout = Seconds(result, CliOptions.StallTimeout),
            },
        };
        // An unknown --source-format is a usage error now, not when the pipeline starts.
        SourceFactory.Catalog.Forced(settings);
        return settings;
    }

    /// <summary>The tokenizer's settings: family, vocabulary files and case.</summary>
    public static TokenizerSettings ReadTokenizer(ParseResult result)
    {
        TokenizerKind kind = result.GetValue(CliOptions.Tokenizer)!.ToLowerInvariant() switch
        {
            "auto" => TokenizerKind.Auto,
            "wordpiece" or "bert" => TokenizerKind.WordPiece,
            "tiktoken" or "cl100k" => TokenizerKind.Tiktoken,
            "sentencepiece" or "spm" => TokenizerKind.SentencePiece,
            "bpe" or "gpt2" => TokenizerKind.Gpt2Bpe,
            "hf" or "huggingface" or "tokenizer.json" => TokenizerKind.HuggingFace,
            string other when File.Exists(other) || Directory.Exists(other) => TokenizerKind.HuggingFace,
            string other => throw new ArgumentException($"--tokenizer {other}: expected a tokenizer.json (or a model folder holding one), auto, wordpiece, tiktoken, sentencepiece or bpe."),
        };
        string tokenizerOption = result.GetValue(CliOptions.Tokenizer)!;
        string? path = File.Exists(tokenizerOption) || Directory.Exists(tokenizerOption) ? tokenizerOption : null;
        if (path is not null && result.GetValue(CliOptions.Vocab) is { } vocab)
        {
            throw new ArgumentException($"--tokenizer {tokenizerOption} and --vocab {vocab}: give one; a tokenizer.json holds its vocabulary.");
        }

        return new TokenizerSettings { Kind = kind, VocabularyPath = path ?? result.GetValue(CliOptions.Vocab), MergesPath = result.GetValue(CliOptions.Merges), LowerCase = result.GetValue(CliOptions.LowerCase) };
    }

    /// <summary>
    /// The tokenizer of a run that starts from a Hugging Face folder: the folder's own (tokenizer.json, else vocab.txt)
    /// unless --tokenizer or --vocab names another.
    /// </summary>
    private static TokenizerSettings PretrainedTokenizer(TokenizerSettings given, string folder)
    {
        if (given.VocabularyPath is not null || given.Kind != TokenizerKind.Auto)
        {
            return given;
        }
        string file = StreamLoader.Device.Models.HuggingFace.HuggingFaceModelFolder.FindTokenizer(folder)
            ?? throw new ArgumentException($"--init-from {folder}: the folder has no tokenizer.json or vocab.txt; give the model's tokenizer with --tokenizer PATH or --vocab PATH.");
        return given with { VocabularyPath = file };
    }

    /// <summary>The ZeroMQ settings: --peer-timeout, --expect-consumers, --ack-timeout and the CURVE keys.</summary>
    private static Transport.ZeroMq.ZeroMqOptions ReadZeroMq(ParseResult result, RunRole role)
    {
        int expect = result.GetValue(CliOptions.ExpectConsumers);
        if (expect < 1)
        {
            throw new ArgumentException($"--expect-consumers {expect}: must be at least 1.");
        }
        double timeout = result.GetValue(CliOptions.PeerTimeout);
        if (!(timeout >= 0.25) || timeout > 86_400)
        {
            throw new ArgumentException($"--peer-timeout {timeout}: give seconds, at least 0.25 and at most 86400.");
        }
        double ackTimeout = result.GetValue(CliOptions.AckTimeout);
        if (!(ackTimeout == 0 || ackTimeout >= 1) || ackTimeout > 604_800)
        {
            throw new ArgumentException($"--ack-timeout {ackTimeout}: give seconds, 0 (no deadline) or at least 1 and at most 604800.");
        }
        int maxConsumers = result.GetValue(CliOptions.MaxConsumers);
        if (maxConsumers < expect)
        {
            throw new ArgumentException($"--max-consumers {maxConsumers}: must be at least --expect-consumers ({expect}).");
        }
        return new Transport.ZeroMq.ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(timeout), ExpectConsumers = expect, AckTimeout = TimeSpan.FromSeconds(ackTimeout), MaxConsumers = maxConsumers, Curve = ReadCurve(result, role) };
    }

    /// <summary>--curve-server-key, --curve-keys and --curve-key, read and checked for the role; null without them.</summary>
    private static StreamLoader.Transport.ZeroMq.ZeroMqCurve? ReadCurve(ParseResult result, RunRole role)
    {
        string? server = result.GetValue(CliOptions.CurveServerKey);
        string? keys = result.GetValue(CliOptions.CurveKeys);
        string? own = result.GetValue(CliOptions.CurveKey);
        if (server is null)
        {
            return keys is null && own is null ? null
                : throw new ArgumentException($"{(keys is null ? "--curve-key" : "--curve-keys")} needs --curve-server-key: CURVE starts from the loader's key pair (the loader's NAME.key_secret on the loader, its NAME.key on a device).");
        }
        NetMQ.NetMQCertificate serverKey = ReadKey("--curve-server-key", server, StreamLoader.Transport.ZeroMq.CurveCertificateFile.Read);
        if (role == RunRole.Loader && !serverKey.HasSecretKey)
        {
            throw new ArgumentException($"--curve-server-key {server}: the loader needs its secret key, the NAME.key_secret file 'streamloader keys' wrote (this file has the public key only, which is what devices take).");
        }
        if (role == RunRole.Device && keys is not null)
        {
            throw new ArgumentException("--curve-keys is the loader's list of consumers; a device proves its own key with --curve-key.");
        }
        NetMQ.NetMQCertificate? client = own is null ? null : ReadKey("--curve-key", own, StreamLoader.Transport.ZeroMq.CurveCertificateFile.Read);
        if (client is { HasSecretKey: false })
        {
            throw new ArgumentException($"--curve-key {own}: a device proves its key with the secret half: give its NAME.key_secret file (the NAME.key file goes into the loader's --curve-keys folder).");
        }
        return new StreamLoader.Transport.ZeroMq.ZeroMqCurve(serverKey, client, keys is null ? null : ReadKey("--curve-keys", keys, StreamLoader.Transport.ZeroMq.CurveCertificateFile.ReadFolder));
    }

    /// <summary>Reads a key file or folder; a missing or malformed one is a usage error naming the option.</summary>
    private static T ReadKey<T>(string option, string path, Func<string, T> read)
    {
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            throw new ArgumentException(e is FormatException || e.Message.Contains(option, StringComparison.Ordinal) ? e.Message : $"{option} {path}: {e.Message}", e);
        }
    }

    private static TimeSpan Seconds(ParseResult result, Option<double> option)
    {
        double seconds = result.GetValue(option);
        if (!(seconds > 0) || seconds > 86_400)
        {
            throw new ArgumentException($"{option.Name} {seconds}: give seconds, more than 0 and at most 86400.");
        }
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>The names of the options that were on the command line.</summary>
    private static HashSet<string> GivenOptions(ParseResult result)
    {
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (Option option in result.CommandResult.Command.Options)
        {
            if (result.GetResult(option) is { Implicit: false })
            {
                given.Add(option.Name);
            }
        }
        return given;
    }

    private static RunSettings Read(ParseResult result, bool training)
    {
        var notes = new List<string>();
        string task = result.GetValue(CliOptions.Task)!;
        string[] sources = result.GetValue(CliOptions.Source) is { Length: > 0 } given ? given : [SourceFactory.BuiltInName];
        RunRole role = (result.GetValue(CliOptions.Role)?.ToLowerInvariant()) switch
        {
            null or "all" => RunRole.All,
            "loader" => RunRole.Loader,
            "device" => RunRole.Device,
            string other => throw new ArgumentException($"--role {other}: expected 'loader' or 'device' (or --all)."),
        };
        if (result.GetValue(CliOptions.All) && role != RunRole.All)
        {
            throw new ArgumentException("--all and --role cannot be combined: --all runs every service here.");
        }
        bool outGiven = result.GetResult(CliOptions.Out) is { Implicit: false };
        bool inGiven = result.GetResult(CliOptions.In) is { Implicit: false };
        if (role == RunRole.All && result.CommandResult.Command is RootCommand && (outGiven || inGiven))
        {
            throw new ArgumentException($"{(outGiven ? "--out" : "--in")} needs a split run: --all keeps batches in this process. Use --role loader --out ... in one process and --role device --in ... in another.");
        }
        if (role == RunRole.Loader && inGiven)
        {
            throw new ArgumentException("--in is for the device role; the loader reads --source and writes --out.");
        }
        if (role == RunRole.Device && outGiven)
        {
            throw new ArgumentException("--out is for the loader role; the device reads --in.");
        }

        RankInfo rank = RankInfo.FromEnvironment();
        int? rankArg = result.GetValue(CliOptions.Rank);
        int? worldArg = result.GetValue(CliOptions.WorldSize);
        if (rankArg is not null || worldArg is not null)
        {
            if (rankArg is null || worldArg is null)
            {
                throw new ArgumentException("--rank and --world-size go together: give both (or neither, to read them from RANK/WORLD_SIZE and the like).");
            }
            try
            {
                rank = new RankInfo(rankArg.Value, worldArg.Value);
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new ArgumentException($"--rank {rankArg} --world-size {worldArg}: {ex.Message.Split(" (Parameter")[0]}", ex);
            }
        }

        var pairs = new List<string>(result.GetValue(CliOptions.Set) ?? []);
        foreach ((Option<string?> option, string key) in CliOptions.TaskFlags)
        {
            if (result.GetResult(option) is { Implicit: false } && result.GetValue(option) is { } value)
            {
                pairs.Add($"{key}={value}");
            }
        }
        var settings = TaskSettings.Parse(pairs);

        long? maxSteps = result.GetValue(CliOptions.MaxSteps);
        if (maxSteps == 0)
        {
            maxSteps = null;
        }
        else if (maxSteps is null && sources is [var only] && string.Equals(only, SourceFactory.BuiltInName, StringComparison.OrdinalIgnoreCase) && role == RunRole.All && training)
        {
            maxSteps = BuiltInDefaultSteps;
            notes.Add($"The built-in corpus trains for {BuiltInDefaultSteps} steps by default; pass --max-steps N (0 for no limit) to change that.");
        }
        else if (maxSteps < 0)
        {
            throw new ArgumentException("--max-steps must be 0 or more.");
        }

        int seqLen = result.GetValue(CliOptions.SeqLen);
        int batchSize = result.GetValue(CliOptions.BatchSize);
        int workers = result.GetValue(CliOptions.Workers);
        int epochs = result.GetValue(CliOptions.Epochs);
        int queue = result.GetValue(CliOptions.Queue);
        if (seqLen < 8 || seqLen > 65536)
        {
            throw new ArgumentException($"--seq-len {seqLen}: must be between 8 and 65536.");
        }
        if (batchSize < 1)
        {
            throw new ArgumentException($"--batch-size {batchSize}: must be at least 1.");
        }
        if (workers < 1)
        {
            throw new ArgumentException($"--workers {workers}: must be at least 1.");
        }
        if (epochs < 0)
        {
            throw new ArgumentException($"--epochs {epochs}: must be 0 (unbounded) or more.");
        }
        if (epochs == 0 && maxSteps is null && role != RunRole.Loader && training)
        {
            throw new ArgumentException("--epochs 0 repeats the source forever; give --max-steps too.");
        }
        if (queue < 1)
        {
            throw new ArgumentException($"--queue {queue}: must be at least 1.");
        }

        string? checkpoint = result.GetValue(CliOptions.Checkpoint);
        long? scheduleSteps = result.GetValue(CliOptions.ScheduleSteps);
        if (scheduleSteps is < 1)
        {
            throw new ArgumentException($"--schedule-steps {scheduleSteps}: must be at least 1.");
        }

        string? pretrained = result.GetValue(CliOptions.InitFrom) is { } initFrom && StreamLoader.Device.Models.HuggingFace.HuggingFaceModelFolder.IsModelFolder(initFrom) ? initFrom : null;
        bool pretrainedWeights = pretrained is not null;
        if (result.GetValue(CliOptions.Model) is { } modelOption && StreamLoader.Device.Models.HuggingFace.HuggingFaceModelFolder.HasConfig(modelOption))
        {
            if (pretrained is not null && !string.Equals(Path.GetFullPath(pretrained), Path.GetFullPath(modelOption), StringComparison.Ordinal))
            {
                throw new ArgumentException($"--model {modelOption} and --init-from {pretrained}: each names a Hugging Face folder; --init-from alone takes its architecture and weights.");
            }
            pretrained ??= modelOption;
        }
        if (pretrained is not null)
        {
            // An architecture no family reads is said now, in one line, before any data is read.
            _ = StreamLoader.Device.Models.HuggingFace.HuggingFaceModelFolder.Open(pretrained);
        }
        return new RunSettings
        {
            Task = task,
            Seed = result.GetValue(CliOptions.Seed),
            MaxSteps = maxSteps,
            Provider = new ProviderRunSettings
            {
                Sources = sources,
                Weights = ReadWeights(result),
                Reading = ReadSource(result),
                Epochs = epochs,
                ShuffleBuffer = Math.Max(0, result.GetValue(CliOptions.ShuffleBuffer)),
                ShuffleStart = result.GetValue(CliOptions.ShuffleStart) is int start ? Math.Max(1, start) : null,
                Rank = rank,
                GlobalOrder = result.GetValue(CliOptions.Sharding) == "global",
            },
            Batcher = new BatcherRunSettings
            {
                Tokenizer = pretrained is null ? ReadTokenizer(result) : PretrainedTokenizer(ReadTokenizer(result), pretrained),
                SequenceLength = seqLen,
                BatchSize = batchSize,
                TaskSettings = settings,
                Workers = workers,
                Labels = result.GetValue(CliOptions.Labels),
                EvalSplit = HeldOutSplit.Parse(result.GetValue(CliOptions.EvalSplit) ?? "0", result.GetValue(CliOptions.Seed)),
            },
            Transport = new TransportRunSettings
            {
                Role = role,
                Out = result.GetValue(CliOptions.Out)!,
                In = result.GetValue(CliOptions.In)!,
                Queue = queue,
                ZeroMq = ReadZeroMq(result, role),
            },
            Device = new DeviceRunSettings
            {
                ModelSize = result.GetValue(CliOptions.Model)!,
                Device = result.GetValue(CliOptions.Device)!,
                TorchThreads = result.GetValue(CliOptions.TorchThreads),
                Training = new TrainerOptions
                {
                    MaxSteps = maxSteps,
                    ScheduleSteps = scheduleSteps,
                    LearningRate = result.GetValue(CliOptions.LearningRate),
                    WarmupSteps = result.GetValue(CliOptions.Warmup),
                    ClipNorm = result.GetValue(CliOptions.Clip),
                    LogEvery = result.GetValue(CliOptions.LogEvery),
                    EvalEvery = Math.Max(1, result.GetValue(CliOptions.EvalEvery)),
                    InitFrom = pretrained is null ? result.GetValue(CliOptions.InitFrom) : null,
                },
                Pretrained = pretrained,
                PretrainedWeights = pretrainedWeights,
                Checkpoint = checkpoint is null ? Path.Combine("runs", task) : string.Equals(checkpoint, "none", StringComparison.OrdinalIgnoreCase) ? null : checkpoint,
                CheckpointUnderRuns = checkpoint is null || rank.WorldSize > 1,
            },
            Reporting = new ReportingRunSettings
            {
                SummaryJson = result.GetValue(CliOptions.SummaryJson),
                Progress = result.GetValue(CliOptions.Progress)!,
            },
            Notes = notes,
        };
    }
}
