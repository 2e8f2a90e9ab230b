using System.CommandLine;
using StreamLoader.Device.Models.HuggingFace;
using Spectre.Console;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Hosting;
using StreamLoader.Results.Parts;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// <c>streamloader infer</c> (also <c>--task infer</c>): runs a trained classify or multilabel checkpoint over a
/// source and writes one row per input document, in input order, exactly once across crashes; <c>--merge</c> joins the
/// parts several ranks wrote.
/// </summary>
internal static class InferCommand
{
    public static readonly Option<string?> Checkpoint = new("--checkpoint", "-c") { Description = "The trained classify or multilabel checkpoint to run: a run folder, or runs/<task> for its latest. Its tokenizer, model, sequence length and text columns are used unless given.", HelpName = "DIR" };
    public static readonly Option<string?> Output = new("--output", "-o") { Description = "Where the rows go; the extension names the format: .jsonl, .arrow (Arrow IPC file; also .feather, .ipc) or .parquet. With several ranks, rank r writes NAME.part-0000r-of-0000W.EXT beside it. Relaunched with the same --output, a stopped run continues after its last committed chunk; a finished one has nothing to do.", HelpName = "FILE" };
    public static readonly Option<string?> KeepColumns = new("--keep-columns") { Description = "Input columns (fields) copied into each output row beside the prediction: title,tag. The text column too, if you want it.", HelpName = "a,b" };
    public static readonly Option<string?> FilterBy = new("--filter-by") { Description = "Write only the rows with one of these labels (multi-label: with any of them), as NeMo Curator's filter_by; the rest are counted as filtered out.", HelpName = "label,label" };
    public static readonly Option<string> Task = new("--task", "-t") { Description = "The inference task plugin (see 'streamloader tasks'); the model's own task comes from the checkpoint.", DefaultValueFactory = _ => "infer", HelpName = "name" };
    public static readonly Option<bool> Merge = new("--merge") { Description = "Join the finished parts of --output (every rank's, from their markers) into --output, in input order, and exit. Needs no --checkpoint or --source." };
    public static readonly Option<int> BatchSize = new("--batch-size", "-b") { Description = "Fixed batching: rows per batch; sorted batching: with --seq-len, the default token budget (--max-tokens-per-batch).", DefaultValueFactory = _ => 32, HelpName = "n" };
    public static readonly Option<int> CommitEvery = new("--commit-every") { Description = "Commit a chunk of rows once it accounts for this many documents (or --commit-seconds have passed): a killed run redoes at most that much.", DefaultValueFactory = _ => 4096, HelpName = "documents" };
    public static readonly Option<double> CommitSeconds = new("--commit-seconds") { Description = "Commit at least this often while rows are ready.", DefaultValueFactory = _ => 10.0, HelpName = "s" };

    /// <summary>The options of the tasks of mode infer (generated from the catalog, plugins included).</summary>
    private static IEnumerable<Option> InferenceFlags
    {
        get
        {
            HashSet<string> flags = PipelineHost.Catalog.Tasks.Where(t => t.Mode == Core.Tasks.TaskMode.Infer).SelectMany(t => t.Options).Select(o => o.Flag).OfType<string>().ToHashSet(StringComparer.Ordinal);
            return CliOptions.TaskFlags.Where(f => flags.Contains(f.Option.Name)).Select(f => f.Option);
        }
    }

    /// <summary>The pipeline options inference takes: no shuffling, epochs, resume, labels or training settings.</summary>
    private static IEnumerable<Option> Options =>
    [
        Checkpoint, Output, KeepColumns, FilterBy, Merge, CliOptions.Role, CliOptions.Out,
        Task, CliOptions.Source, CliOptions.Format, CliOptions.TextField, CliOptions.IdField, .. CliOptions.FormatOptions, CliOptions.OnBadRecord, CliOptions.DecodeThreads, CliOptions.PartsAtOnce,
        CliOptions.ConnectTimeout, CliOptions.ResponseTimeout, CliOptions.StallTimeout, CliOptions.Rank, CliOptions.WorldSize,
        CliOptions.Tokenizer, CliOptions.Vocab, CliOptions.Merges, CliOptions.LowerCase, CliOptions.SeqLen, BatchSize, .. InferenceFlags, CliOptions.Set, CliOptions.Plugin,
        CliOptions.Workers, CliOptions.Queue, CommitEvery, CommitSeconds, CliOptions.Model, CliOptions.InitFrom, CliOptions.Device, CliOptions.TorchThreads, CliOptions.Progress, CliOptions.SummaryJson, ConfigFiles.Config,
    ];

    public static Command Create()
    {
        var command = new Command("infer", "Run a trained classifier (a classify or multilabel checkpoint) over a source and write one row per input document, in input order: its id, the columns kept, the label(s), the probabilities, and where it came from. " +
            "Batches are sorted by length with a token budget (CrossFit's sorted-sequence loader); rows are committed in chunks, so a killed run relaunched with the same --output loses and repeats nothing. " +
            "A document longer than --seq-len is classified on its first tokens (status truncated); one without tokens gets its row unclassified (status empty). Also reachable as --task infer.\n\n" +
            "Examples:\n" +
            "  streamloader infer --checkpoint runs/classify --source dataset.csv --output preds.jsonl --keep-columns title,tag\n" +
            "  streamloader infer --checkpoint runs/classify --source docs.jsonl --output nlp.parquet --filter-by natural-language-processing\n" +
            "  streamloader infer --checkpoint runs/multilabel --source dev.tsv --columns text,labels,id --output emotions.arrow --threshold 0.3\n" +
            "  RANK=3 WORLD_SIZE=8 streamloader infer --checkpoint runs/classify --source 'shards/*.jsonl.zst' --output preds.jsonl   (one rank of eight)\n" +
            "  streamloader infer --merge --output preds.jsonl             join the eight parts, in input order\n" +
            "  streamloader infer --role loader --out - --vocab vocab.txt --seq-len 512 --source docs.jsonl | python3 my_model.py\n" +
            "                                                              feed your own model the sorted batches (frames on stdout)\n\n" +
            "Ranks come from --rank/--world-size or the launcher (torchrun, Slurm, Slurm arrays, Kubernetes indexed Jobs); docs/INFERENCE.md shows a Job and an sbatch script.\n" +
            "--role loader runs only the provider and batcher: the sorted batches go to --out as frames (docs/WIRE.md) with each row's source_part and source_ordinal, for a model of your own to run and write; it needs no --checkpoint (give --vocab or --tokenizer and --seq-len) and writes no --output.\n" +
            "Exit codes: 0 done (or already finished); 2 usage, or a checkpoint or output that contradicts the settings; 3 input; 4 device; 130 Ctrl+C and 143 SIGTERM (the rows in order are committed first).");
        foreach (Option option in Options)
        {
            command.Options.Add(option);
        }
        command.SetAction(ExecuteAsync);
        return command;
    }

    private static async Task<int> ExecuteAsync(ParseResult result, CancellationToken cancellationToken)
    {
        if (result.GetValue(Merge))
        {
            return await MergeAsync(result, cancellationToken).ConfigureAwait(false);
        }
        return await PipelineCommands.ExecuteAsync(result, HostMode.Infer, Read, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The run's settings: the checkpoint's tokenizer, model and columns, and inference's own.</summary>
    private static RunSettings Read(ParseResult result)
    {
        string? role = result.GetValue(CliOptions.Role)?.ToLowerInvariant();
        if (role is not (null or "all" or "loader"))
        {
            throw new ArgumentException($"--role {role}: infer takes --role loader (send the sorted batches to --out for your own model) or runs every service in this process; its device side is a classify or multilabel checkpoint (--checkpoint) or your own model reading the frames.");
        }
        if (role == "loader")
        {
            return ReadLoader(result);
        }
        if (result.GetResult(CliOptions.Out) is { Implicit: false })
        {
            throw new ArgumentException("--out is for --role loader, which sends the batches to your own model; without it, infer runs the checkpoint here and writes --output.");
        }
        string checkpoint = result.GetValue(Checkpoint) ?? throw new ArgumentException("infer needs --checkpoint DIR: the classify or multilabel run to apply (runs/classify for the latest).");
        string output = result.GetValue(Output) ?? throw new ArgumentException("infer needs --output FILE (.jsonl, .arrow or .parquet).");
        _ = ResultsFormatCheck(output);
        bool huggingFace = IsHuggingFaceFolder(checkpoint);
        string folder = huggingFace ? Path.GetFullPath(checkpoint) : CheckpointFolders.Resolve(checkpoint, report: System.Console.Error.WriteLine);
        CheckpointManifest manifest = huggingFace ? HuggingFaceManifest(folder) : CheckpointManifest.Load(folder);
        if (manifest.LabelNames is not { Count: > 0 })
        {
            throw new ArgumentException($"--checkpoint {checkpoint}: a {manifest.Task} checkpoint predicts no labels; infer runs classify and multilabel checkpoints.");
        }
        string task = result.GetValue(Task)!;
        if (PipelineHost.Catalog.Get(task).Mode != Core.Tasks.TaskMode.Infer)
        {
            throw new ArgumentException($"--task {task}: infer runs a task of mode infer (infer); the checkpoint's own task ({manifest.Task}) comes from the checkpoint.");
        }
        int trained = manifest.Settings.TryGetValue(CliOptions.SeqLen.Name, out string[]? length) && int.TryParse(length.FirstOrDefault(), out int n) ? n : new BatcherRunSettings().SequenceLength;
        ParseResult inherited = ResumeArguments.ApplyForInference(result, manifest, folder);
        RunSettings settings = CommandLineSettings.From(inherited, training: false) with { Task = task };
        if (settings.Batcher.SequenceLength > trained)
        {
            throw new ArgumentException($"--seq-len {settings.Batcher.SequenceLength}: the model was trained with rows of {trained} tokens and has no positions past them; give {trained} or less.");
        }
        if (settings.Transport.Role != RunRole.All)
        {
            throw new ArgumentException("infer runs every service in this process; scale it out with ranks (--rank/--world-size or a launcher), not roles.");
        }
        string[] keep = Split(inherited.GetValue(KeepColumns));
        var filter = new HashSet<string>(Split(inherited.GetValue(FilterBy)), StringComparer.Ordinal);
        int commitEvery = inherited.GetValue(CommitEvery);
        double commitSeconds = inherited.GetValue(CommitSeconds);
        if (commitEvery < 1 || !(commitSeconds > 0))
        {
            throw new ArgumentException("--commit-every and --commit-seconds must be positive.");
        }
        return settings with
        {
            Provider = ReadOnce(settings.Provider, keep),
            Batcher = settings.Batcher with { BatchSize = inherited.GetValue(BatchSize) is int rows and > 0 ? rows : throw new ArgumentException("--batch-size must be at least 1.") },
            MaxSteps = null,
            Infer = new InferRunSettings
            {
                Checkpoint = folder,
                Manifest = manifest,
                TrainedSequenceLength = trained,
                HuggingFaceFolder = huggingFace,
                Output = output,
                FilterBy = filter,
                ChunkDocuments = commitEvery,
                CommitInterval = TimeSpan.FromSeconds(commitSeconds),
            },
            Notes = [],
        };
    }

    /// <summary>
    /// <c>--role loader</c>: the provider and batcher of inference alone. The sorted batches go to <c>--out</c> for a model
    /// of the user's own; the tokenizer and sequence length come from <c>--checkpoint</c> when one is given, else from the
    /// options.
    /// </summary>
    private static RunSettings ReadLoader(ParseResult result)
    {
        if (result.GetValue(Output) is not null || result.GetValue(FilterBy) is not null)
        {
            throw new ArgumentException("--role loader sends the batches to --out; the rows (--output, --filter-by) are written by the model that reads them.");
        }
        if (result.GetResult(CliOptions.Out) is not { Implicit: false })
        {
            throw new ArgumentException("--role loader needs --out: '-' (stdout, for a pipe), 'unix:PATH', 'tcp://*:PORT' (ZeroMQ) or a file.");
        }
        string task = result.GetValue(Task)!;
        if (PipelineHost.Catalog.Get(task).Mode != Core.Tasks.TaskMode.Infer)
        {
            throw new ArgumentException($"--task {task}: infer runs a task of mode infer (infer).");
        }
        ParseResult inherited = result;
        if (result.GetValue(Checkpoint) is { } checkpoint)
        {
            string folder = CheckpointFolders.Resolve(checkpoint, report: System.Console.Error.WriteLine);
            inherited = ResumeArguments.ApplyForInference(result, CheckpointManifest.Load(folder), folder);
        }
        RunSettings settings = CommandLineSettings.From(inherited, training: false) with { Task = task };
        return settings with
        {
            Provider = ReadOnce(settings.Provider, Split(inherited.GetValue(KeepColumns))),
            Batcher = settings.Batcher with { BatchSize = inherited.GetValue(BatchSize) is int rows and > 0 ? rows : throw new ArgumentException("--batch-size must be at least 1.") },
            Transport = settings.Transport with { Role = RunRole.Loader },
            MaxSteps = null,
            Notes = [],
        };
    }

    /// <summary>A Hugging Face model folder given as --checkpoint: a config.json and safetensors weights, and no StreamLoader checkpoint.json.</summary>
    private static bool IsHuggingFaceFolder(string path) =>
        !File.Exists(Path.Combine(path, CheckpointManifest.FileName)) && HuggingFaceModelFolder.IsModelFolder(path);

    /// <summary>
    /// What inference needs to know of a Hugging Face sequence-classification folder, in a checkpoint's terms: the
    /// labels from id2label, the task from problem_type, the architecture from the folder (--init-from) and rows as long
    /// as its positions allow, up to 512 tokens.
    /// </summary>
    private static CheckpointManifest HuggingFaceManifest(string folder)
    {
        HuggingFaceModelFolder model = HuggingFaceModelFolder.Open(folder);
        IReadOnlyList<string> labels = model.Config.Labels
            ?? throw new ArgumentException($"--checkpoint {folder}: its config.json has no id2label, so what the model's outputs mean is unknown; infer runs sequence-classification folders ({model.Family.Name}: an id2label beside a classification head).");
        string task = model.Config.ProblemType == "multi_label_classification" ? "multilabel" : "classify";
        int positions = Math.Min(512, model.Family.MaxPositions(model.Config));
        return new CheckpointManifest
        {
            Task = task,
            CreatedUtc = File.GetLastWriteTimeUtc(Path.Combine(folder, HuggingFaceModelFolder.ConfigFile)),
            Steps = 0,
            Tokenizer = model.TokenizerFile ?? "none",
            VocabularySize = model.Family.VocabularySize(model.Config),
            NextBatchSequence = 0,
            ResumeOffset = 0,
            LabelNames = labels,
            HasPosition = false,
            Settings = new Dictionary<string, string[]>(StringComparer.Ordinal)
            {
                [CliOptions.InitFrom.Name] = [folder],
                [CliOptions.SeqLen.Name] = [positions.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            },
        };
    }

    /// <summary>How inference reads its source: once, in order (each file whole, in turn), every document (empty ones too: each gets its row), the kept columns copied, no labels.</summary>
    private static ProviderRunSettings ReadOnce(ProviderRunSettings provider, string[] keep) => provider with
    {
        ShuffleBuffer = 0,
        Interleave = 1,
        Epochs = 1,
        Reading = provider.Reading with
        {
            Columns = provider.Reading.Columns with { Keep = keep, Label = null, LabelRequired = false },
            Lines = provider.Reading.Lines with { KeepEmptyText = true },
        },
    };

    private static Results.Formats.IResultFormat ResultsFormatCheck(string output) => Results.Formats.ResultFormats.ForPath(output);

    private static string[] Split(string? list) => list?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    private static async Task<int> MergeAsync(ParseResult result, CancellationToken cancellationToken)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        try
        {
            string output = result.GetValue(Output) ?? throw new ArgumentException("--merge needs --output FILE: the output whose parts to join.");
            MergeResult merged = await PartMerger.MergeAsync(output, result.GetValue(CliOptions.WorldSize), cancellationToken).ConfigureAwait(false);
            console.MarkupLine(Markup.Escape($"merged {merged.Parts} parts into {merged.Output}: {merged.Rows:N0} rows from {merged.Documents:N0} documents, in input order (marker {OutputLayout.MarkerFor(merged.Output)})"));
            return ExitCodes.Success;
        }
        catch (ArgumentException ex)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            return ExitCodes.UsageError;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            return ExitCodes.InputError;
        }
    }
}
