using System.CommandLine;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Tasks;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// Reads a run's <see cref="RunSettings"/> from a parsed command line: the console's half of the settings. It only
/// parses and says what was given; the records check their own ranges (<see cref="RunSettings.Validate"/>).
/// </summary>
public static class CommandLineSettings
{
    /// <summary>Reads and validates the settings. Throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static RunSettings From(ParseResult result, bool training = true)
    {
        // What the user typed, before a resume adds the checkpoint's settings: a device checks the frames against that.
        ParseResult typed = result;
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
        RunSettings read = Read(result, typed, training);
        return read with
        {
            Notes = resumeNote is null ? read.Notes : [.. read.Notes, resumeNote],
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
            Lines = new LineReaderOptions
            {
                OnBadRecord = policy,
                DecodeThreads = result.GetValue(CliOptions.DecodeThreads) is int threads and >= 0 ? threads : throw new ArgumentException($"--decode-threads {result.GetValue(CliOptions.DecodeThreads)}: expected 0 (one per core) or a number of threads."),
                PartsAtOnce = result.GetValue(CliOptions.PartsAtOnce) is int parts and >= 0 ? parts : throw new ArgumentException($"--parts-at-once {result.GetValue(CliOptions.PartsAtOnce)}: expected 0 (one per two cores) or a number of parts."),
            },
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
        TokenizerCatalog catalog = TokenizerCatalog.Default;
        string tokenizerOption = result.GetValue(CliOptions.Tokenizer)!;
        // A file or folder is a tokenizer.json or a model folder holding one; otherwise a family's name.
        string? path = File.Exists(tokenizerOption) || Directory.Exists(tokenizerOption) ? tokenizerOption : null;
        string family = path is not null ? catalog.Find("huggingface")!.Name
            : string.Equals(tokenizerOption, TokenizerCatalog.Auto, StringComparison.OrdinalIgnoreCase) ? TokenizerCatalog.Auto
            : catalog.Find(tokenizerOption)?.Name ?? throw new ArgumentException($"--tokenizer {tokenizerOption}: expected a tokenizer.json (or a model folder holding one), or one of {catalog.Names}.");
        if (path is not null && result.GetValue(CliOptions.Vocab) is { } vocab)
        {
            throw new ArgumentException($"--tokenizer {tokenizerOption} and --vocab {vocab}: give one; a tokenizer.json holds its vocabulary.");
        }

        return new TokenizerSettings { Family = family, VocabularyPath = path ?? result.GetValue(CliOptions.Vocab), MergesPath = result.GetValue(CliOptions.Merges), LowerCase = result.GetValue(CliOptions.LowerCase) };
    }

    /// <summary>
    /// The tokenizer of a run that starts from a Hugging Face folder: the folder's own (tokenizer.json, else vocab.txt)
    /// unless --tokenizer or --vocab names another.
    /// </summary>
    private static TokenizerSettings PretrainedTokenizer(TokenizerSettings given, string folder)
    {
        if (given.VocabularyPath is not null || !string.Equals(given.Family, TokenizerCatalog.Auto, StringComparison.Ordinal))
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

    private static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    private static RunSettings Read(ParseResult result, ParseResult typed, bool training)
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
        bool outGiven = Given(result, CliOptions.Out);
        bool inGiven = Given(result, CliOptions.In);
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
            maxSteps = RunSettings.BuiltInDefaultSteps;
            notes.Add($"The built-in corpus trains for {RunSettings.BuiltInDefaultSteps} steps by default; pass --max-steps N (0 for no limit) to change that.");
        }
        else if (maxSteps < 0)
        {
            throw new ArgumentException($"--max-steps {maxSteps}: must be 0 (no limit) or more.");
        }

        string? checkpoint = result.GetValue(CliOptions.Checkpoint);

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
            TaskGiven = Given(typed, CliOptions.Task),
            Seed = result.GetValue(CliOptions.Seed),
            MaxSteps = maxSteps,
            Provider = new ProviderRunSettings
            {
                Sources = sources,
                Weights = ReadWeights(result),
                Reading = ReadSource(result),
                Epochs = result.GetValue(CliOptions.Epochs),
                Interleave = result.GetValue(CliOptions.Interleave),
                ShuffleBuffer = Math.Max(0, result.GetValue(CliOptions.ShuffleBuffer)),
                ShuffleStart = result.GetValue(CliOptions.ShuffleStart) is int start ? Math.Max(1, start) : null,
                Rank = rank,
                GlobalOrder = result.GetValue(CliOptions.Sharding) == "global",
            },
            Batcher = new BatcherRunSettings
            {
                Tokenizer = pretrained is null ? ReadTokenizer(result) : PretrainedTokenizer(ReadTokenizer(result), pretrained),
                TokenizerGiven = Given(typed, CliOptions.Vocab) || Given(typed, CliOptions.Tokenizer),
                SequenceLength = result.GetValue(CliOptions.SeqLen),
                SequenceLengthGiven = Given(typed, CliOptions.SeqLen),
                BatchSize = result.GetValue(CliOptions.BatchSize),
                TaskSettings = settings,
                Workers = result.GetValue(CliOptions.Workers),
                Labels = result.GetValue(CliOptions.Labels),
                EvalSplit = result.GetValue(CliOptions.EvalSplit)!,
            },
            Transport = new TransportRunSettings
            {
                Role = role,
                Out = result.GetValue(CliOptions.Out)!,
                In = result.GetValue(CliOptions.In)!,
                Queue = result.GetValue(CliOptions.Queue),
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
                    ScheduleSteps = result.GetValue(CliOptions.ScheduleSteps),
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
        }.Validate(training);
    }
}
