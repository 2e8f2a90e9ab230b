using System.CommandLine;
using StreamLoader.Cli.Hosting;
using StreamLoader.Device.Training;
using StreamLoader.Provider;
using StreamLoader.Provider.Http;

namespace StreamLoader.Cli.Commands;

/// <summary>Every command-line option, defined once and shared by the commands that take it.</summary>
internal static class CliOptions
{
    // Each setting's default lives in its service's settings record; the options take it from there.
    private static readonly TrainerOptions s_trainer = new();
    private static readonly HttpReadOptions s_http = new();
    private static readonly ProviderRunSettings s_provider = new();
    private static readonly BatcherRunSettings s_batcher = new();
    private static readonly TransportRunSettings s_transport = new();
    private static readonly DeviceRunSettings s_device = new();
    private static readonly ReportingRunSettings s_reporting = new();

    // What to run
    public static readonly Option<string> Task = new("--task", "-t") { Description = "Task plugin to run (see 'streamloader tasks').", DefaultValueFactory = _ => "mlm", HelpName = "name" };
    public static readonly Option<bool> All = new("--all") { Description = "Run all four services in this process (the default when no --role is given)." };
    public static readonly Option<string?> Role = new("--role") { Description = "Run part of the pipeline: 'loader' (provider + batcher, writes frames to --out) or 'device' (reads frames from --in and trains).", HelpName = "loader|device" };
    public static readonly Option<string> Out = new("--out") { Description = "Loader role: where frames go: 'tcp://*:5555' (ZeroMQ; consumers connect and pull with credits; unauthenticated and unencrypted unless --curve-server-key is given: without it anyone who can reach the port can take batches, so bind to 127.0.0.1 or a private interface, and use '*' only on a trusted network), '-' (stdout, for a pipe), 'unix:PATH' (listen on a Unix socket) or a file path.", DefaultValueFactory = _ => s_transport.Out, HelpName = "tcp://*:PORT|-|unix:PATH|FILE" };
    public static readonly Option<double> PeerTimeout = new("--peer-timeout") { Description = "ZeroMQ (tcp://): seconds a peer may be silent before it is taken to be gone. Both ends heartbeat every fifth of it from their own thread, so a long training step does not count as silence. A loader then sends a lost consumer's unacknowledged batches to another; a device reports its loader gone, saves its checkpoint and exits 3.", DefaultValueFactory = _ => s_transport.ZeroMq.PeerTimeout.TotalSeconds, HelpName = "s" };
    public static readonly Option<double> AckTimeout = new("--ack-timeout") { Description = "Loader role over ZeroMQ: seconds a consumer may hold a batch without acknowledging it. One that does (alive, heartbeating, but stuck) is dropped and told why, and its batches go to the other consumers, so it cannot hold its window forever. It must exceed a consumer's window times its longest step; 0 sets no deadline.", DefaultValueFactory = _ => s_transport.ZeroMq.AckTimeout.TotalSeconds, HelpName = "s" };
    public static readonly Option<int> MaxConsumers = new("--max-consumers") { Description = "Loader role over ZeroMQ: the most consumers joined at once; one more is refused, told why and counted. Each holds up to 64 batches of the loader's memory, so this bounds it whatever peers connect.", DefaultValueFactory = _ => s_transport.ZeroMq.MaxConsumers, HelpName = "n" };
    public static readonly Option<string?> CurveServerKey = new("--curve-server-key") { Description = "ZeroMQ (tcp://): CURVE authentication and encryption. Loader role: its own key pair, the NAME.key_secret file 'streamloader keys' writes; every connection is then encrypted and consumers must know the loader's public key. Device role: that public key, the loader's NAME.key file. Without it, tcp:// is plain and unauthenticated: for trusted networks only.", HelpName = "file" };
    public static readonly Option<string?> CurveKeys = new("--curve-keys") { Description = "Loader role over ZeroMQ with --curve-server-key: a folder of the consumers' public keys (NAME.key files); only a consumer that proves it holds one of them joins, any other is refused, told why and counted.", HelpName = "folder" };
    public static readonly Option<string?> CurveKey = new("--curve-key") { Description = "Device role over ZeroMQ with --curve-server-key: its own key pair (NAME.key_secret), proved to a loader that takes only the consumers in its --curve-keys folder.", HelpName = "file" };
    public static readonly Option<int> ExpectConsumers = new("--expect-consumers") { Description = "Loader role over ZeroMQ: batches flow once this many consumers have joined (data-parallel ranks start even), and the stream does not end before they have: a first one leaving early does not end it for the others.", DefaultValueFactory = _ => s_transport.ZeroMq.ExpectConsumers, HelpName = "n" };
    public static readonly Option<string> In = new("--in") { Description = "Device role (and inspect): where frames come from: 'tcp://HOST:PORT' (ZeroMQ, --queue batches of credit), '-' (stdin), 'unix:PATH' or a file written by --role loader --out. Several, comma-separated (tcp://a:5555,tcp://b:5555), are several loaders feeding this device: it ends once every one has sent its end frame.", DefaultValueFactory = _ => s_transport.In, HelpName = "tcp://HOST:PORT|-|unix:PATH|FILE" };

    // Provider
    public static readonly Option<string[]> Source = new("--source", "-s")
    {
        Description = "Input: a file path, an http(s) URL (streamed while it downloads), a folder (its files, or a Hugging Face dataset folder), a glob ('data/*.jsonl.zst'), '@list.txt' (paths and URLs, one per line), or 'builtin' (prose from the .NET SDK's XML docs; no network, no files). Repeat it to read several as one source. Compression (gzip, bzip2, zstd) and the format are told from the content.",
        DefaultValueFactory = _ => [.. s_provider.Sources],
        HelpName = "path|url|folder|glob|@list|builtin",
        AllowMultipleArgumentsPerToken = false,
    };
    public static readonly Option<string?> Weights = new("--weights") { Description = "Mix the --source options by weight instead of reading them one after another: one positive weight per --source (0.7,0.3). Each next document comes from source k with that probability, drawn from --seed; a pass ends when every source has been read through once (a source that ends sooner starts again).", HelpName = "w,w[,w...]" };
    public static readonly Option<string> Format = new("--source-format", "--format") { Description = "Input format: auto (told from the content; the name is only a hint), or one of: " + string.Join("; ", SourceFactory.Catalog.Formats.Select(f => $"{f.Name} ({f.Summary})")) + ".", DefaultValueFactory = _ => "auto", HelpName = "auto|" + string.Join('|', SourceFactory.Catalog.Formats.Select(f => f.Name)) };
    public static readonly Option<string> TextField = new("--text-column", "--text-field") { Description = "Column (CSV, Arrow, Parquet) or field (JSONL) holding the text; several, comma-separated, are joined with a space (title,description).", DefaultValueFactory = _ => string.Join(',', s_provider.Reading.Columns.Text), HelpName = "name[,name]" };
    public static readonly Option<string> IdField = new("--id-column", "--id-field") { Description = "Column or field holding the id (when absent, a record's id is its position).", DefaultValueFactory = _ => s_provider.Reading.Columns.Id, HelpName = "name" };
    public static readonly Option<string?> LabelColumn = new("--label-column") { Description = "Column or field holding the label(s): a name, a number (a Hugging Face ClassLabel id is mapped to its name), a list, or comma-separated ids. When given, a source without it is an error; when not, a column named 'label' is used if there is one.", HelpName = "name" };

    /// <summary>The options only some formats take, one per name, generated from the catalog: a new format's options need no edit here.</summary>
    public static readonly IReadOnlyList<Option<string?>> FormatOptions = SourceFactory.Catalog.Options
        .Select(o => new Option<string?>("--" + o.Option.Name)
        {
            Description = $"[{string.Join(", ", o.Formats)}] {o.Option.Description}{(o.Option.Default is null ? string.Empty : $" Default: {o.Option.Default}.")}",
            HelpName = o.Option.HelpName,
        })
        .ToList();
    public static readonly Option<int> DecodeThreads = new("--decode-threads") { Description = "Threads that decode records (UTF-8 checks, JSON parsing, a Wikipedia page's wikitext into prose) and decompress zstd frames and bzip2 streams, beside the one that reads and frames them; 0 is one per core, 1 does it all on the reading thread. The documents and their order do not change with it.", DefaultValueFactory = _ => 0, HelpName = "n" };
    public static readonly Option<int> PartsAtOnce = new("--parts-at-once") { Description = "Files of a many-file source (or row groups of a Parquet file) read at once, each ahead of its turn; 0 is one per two cores, at least 2. The documents and their order do not change with it.", DefaultValueFactory = _ => 0, HelpName = "n" };
    public static readonly Option<string> OnBadRecord = new("--on-bad-record") { Description = "Malformed, invalid-UTF-8 or oversized records: 'skip' counts and reports them, 'fail' stops at the first.", DefaultValueFactory = _ => "skip", HelpName = "skip|fail" };
    public static readonly Option<double> ConnectTimeout = new("--connect-timeout") { Description = "HTTP(S) sources: seconds to wait for a connection.", DefaultValueFactory = _ => s_http.ConnectTimeout.TotalSeconds, HelpName = "s" };
    public static readonly Option<double> ResponseTimeout = new("--response-timeout") { Description = "HTTP(S) sources: seconds to wait for the server's response headers, on the first request and on each resume.", DefaultValueFactory = _ => s_http.ResponseTimeout.TotalSeconds, HelpName = "s" };
    public static readonly Option<double> StallTimeout = new("--stall-timeout") { Description = "HTTP(S) sources: seconds without a byte, over all resumes of a dropped connection, before the read fails (exit 3).", DefaultValueFactory = _ => s_http.StallTimeout.TotalSeconds, HelpName = "s" };
    public static readonly Option<int> Epochs = new("--epochs") { Description = "Passes over the source; 0 repeats until --max-steps.", DefaultValueFactory = _ => s_provider.Epochs, HelpName = "n" };
    public static readonly Option<int> Interleave = new("--interleave") { Description = "Files of a many-file source (or row groups of a Parquet file) read together and taken in turns of 64 documents, so that several decompress and decode at once; 1 takes each file whole, in turn. Part of the stream's order, which it fixes whatever the machine (unlike --parts-at-once); a resume keeps the saved run's.", DefaultValueFactory = _ => s_provider.Interleave, HelpName = "n" };
    public static readonly Option<int> ShuffleBuffer = new("--shuffle-buffer") { Description = "Streaming shuffle buffer, in documents; 0 keeps source order.", DefaultValueFactory = _ => s_provider.ShuffleBuffer, HelpName = "docs" };

    public static readonly Option<int?> ShuffleStart = new("--shuffle-start")
    {
        Description = "Documents the shuffle buffer holds before the first leaves; it then picks on every other arrival until it is full, so the first batch does not wait for the whole buffer. Default 16; --shuffle-start equal to --shuffle-buffer waits for a full buffer. A resume keeps the saved run's.",
        HelpName = "docs",
    };
    public static readonly Option<int?> Rank = new("--rank") { Description = "This process's rank (default: from RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID or JOB_COMPLETION_INDEX; else 0).", HelpName = "r" };
    public static readonly Option<int?> WorldSize = new("--world-size") { Description = "Number of ranks (default: from WORLD_SIZE, OMPI_COMM_WORLD_SIZE, SLURM_NTASKS and the like; else 1). How they share the source: --sharding.", HelpName = "n" };

    public static readonly Option<string> Sharding = new Option<string>("--sharding")
    {
        Description = "How ranks share the source. 'local': each rank reads only its share (whole files when there are at least as many as ranks, else every Nth document) and shuffles it; a resume keeps the world size. 'global': every rank reads the whole source in the one order the seed fixes (as a single process would) and takes every Nth document of it, so a resume may change the number of ranks (--resume runs/<task> with another --world-size re-deals the rest exactly; docs/DISTRIBUTED.md). Costs each rank a read of the whole source.",
        DefaultValueFactory = _ => s_provider.GlobalOrder ? "global" : "local",
        HelpName = "local|global",
    }.AcceptOnlyFromAmong("local", "global");
    public static readonly Option<string?> Resume = new("--resume") { Description = "Continue a run from its checkpoint folder: the model, optimizer, schedule, step and stream position, with the run's own settings (options given again must agree). DIR is a run folder, or runs/<task> for its latest.", HelpName = "DIR" };

    // Batcher
    public static readonly Option<string> Tokenizer = new("--tokenizer") { Description = $"Tokenizer: a Hugging Face tokenizer.json or a model folder holding one (Llama 3, Qwen3, Gemma 3, GPT-4o, DeepSeek V3, Llama 2: their ids exactly), or a family: {Batcher.Tokenizers.Catalog.TokenizerCatalog.Default.Names} (auto: from --vocab's file; tiktoken is cl100k_base, built in; bpe is GPT-2's).", DefaultValueFactory = _ => Batcher.Tokenizers.Catalog.TokenizerCatalog.Auto, HelpName = "tokenizer.json|DIR|kind" };
    public static readonly Option<string?> Vocab = new("--vocab") { Description = "Vocabulary: a BERT vocab.txt, a SentencePiece .model, or GPT-2 encoder.json (with --merges).", HelpName = "path" };
    public static readonly Option<string?> Merges = new("--merges") { Description = "GPT-2 BPE merges (vocab.bpe).", HelpName = "path" };
    public static readonly Option<bool?> LowerCase = new("--lowercase") { Description = "Lower-case text before tokenizing (default: yes for WordPiece, no otherwise; ALBERT's SentencePiece model needs yes).", HelpName = "true|false" };
    public static readonly Option<int> SeqLen = new("--seq-len") { Description = "Tokens per row, special tokens included. Longer documents are cut into windows, never dropped.", DefaultValueFactory = _ => s_batcher.SequenceLength, HelpName = "n" };
    public static readonly Option<int> BatchSize = new("--batch-size", "-b") { Description = "Rows per batch.", DefaultValueFactory = _ => s_batcher.BatchSize, HelpName = "n" };
    public static readonly Option<int> Seed = new("--seed") { Description = "Seed for shuffling, masking and model initialisation. Same seed, same batches.", DefaultValueFactory = _ => 0, HelpName = "n" };
    public static readonly Option<string?> Labels = new("--labels") { Description = "classify, multilabel: the label names, a file with one per line (GoEmotions' labels.txt; line i names label id i) or a comma-separated list. Default: the source's schema (Hugging Face ClassLabel), else every label found in a pass over the data.", HelpName = "file|a,b,c" };
    public static readonly Option<string> EvalSplit = new("--eval-split") { Description = "classify, multilabel: documents held out for evaluation: a fraction drawn by document id from --seed (the same documents whatever the shuffle, rank or resume), 0 for none, or file:NAME for the documents of one --source file (--source train.tsv --source dev.tsv --eval-split file:dev.tsv).", DefaultValueFactory = _ => s_batcher.EvalSplit, HelpName = "fraction|file:NAME" };
    public static readonly Option<string[]> Plugin = new("--plugin") { Description = "Load task plugins from a .NET assembly (repeatable); its tasks join the built-in ones (docs/TASKS.md).", HelpName = "path.dll", AllowMultipleArgumentsPerToken = false };

    /// <summary>
    /// The options tasks declare (<see cref="Core.Tasks.TaskOption.Flag"/>), one per flag, generated from the task catalog (plugins
    /// included): a new task's options need no edit here. Each sets the task setting of the same key.
    /// </summary>
    public static readonly IReadOnlyList<(Option<string?> Option, string Key)> TaskFlags = Hosting.TaskPlugins.Catalog.Tasks
        .SelectMany(t => t.Options.Where(o => o.Flag is not null).Select(o => (Task: t, Info: o)))
        .GroupBy(p => p.Info.Flag!, StringComparer.Ordinal)
        .Select(g =>
        {
            string key = g.First().Info.Key;
            if (g.Any(p => p.Info.Key != key))
            {
                throw new InvalidOperationException($"Tasks {string.Join(", ", g.Select(p => p.Task.Name))} declare {g.Key} for different settings.");
            }
            string tasks = string.Join(", ", g.Select(p => p.Task.Name).Distinct());
            string defaults = g.Select(p => p.Info.DefaultText).Distinct().Count() == 1
                ? g.First().Info.DefaultText
                : string.Join("; ", g.Select(p => $"{p.Task.Name} {p.Info.DefaultText}").Distinct());
            string description = g.Select(p => p.Info.Description).Distinct().Count() == 1
                ? g.First().Info.Description
                : string.Join(" ", g.Select(p => $"{p.Task.Name}: {p.Info.Description}"));
            string accepts = string.Join("; ", g.Select(p => p.Info.Accepts).Distinct());
            var option = new Option<string?>(g.Key) { Description = $"[{tasks}] {description} Takes {accepts}; default: {defaults}. Same as --set {key}=VALUE.", HelpName = "value" };
            return (option, key);
        })
        .ToList();
    public static readonly Option<string[]> Set = new("--set") { Description = "Task setting as key=value (repeatable); 'streamloader tasks' lists each task's settings.", HelpName = "key=value", AllowMultipleArgumentsPerToken = false };
    public static readonly Option<int> Workers = new("--workers", "-j") { Description = "Tokenizer workers (default: processor count).", DefaultValueFactory = _ => s_batcher.Workers, HelpName = "n" };
    public static readonly Option<int> Queue = new("--queue") { Description = "Capacity of the bounded channels between services, in batches (documents: 64x this).", DefaultValueFactory = _ => s_transport.Queue, HelpName = "n" };

    // Device
    public static readonly Option<long?> MaxSteps = new("--max-steps") { Description = "Stop after this many optimizer steps (bench, inspect: batches). The built-in corpus defaults to 200; 0 means no limit.", HelpName = "n" };
    public static readonly Option<string> Model = new("--model") { Description = "Model size: micro, tiny (2 layers, hidden 128), small, base (BERT-base); classify and multilabel also take bag (a fast bag-of-embeddings classifier), or a Hugging Face model folder (its config.json's architecture, trained from scratch; --init-from DIR loads its weights too).", DefaultValueFactory = _ => s_device.ModelSize, HelpName = "size" };
    public static readonly Option<double> LearningRate = new("--lr") { Description = "Peak learning rate (AdamW).", DefaultValueFactory = _ => s_trainer.LearningRate, HelpName = "rate" };
    public static readonly Option<int> Warmup = new("--warmup") { Description = "Linear warm-up steps; the rate then decays linearly to 0 at --max-steps (constant if no limit).", DefaultValueFactory = _ => s_trainer.WarmupSteps, HelpName = "steps" };
    public static readonly Option<double> Clip = new("--clip") { Description = "Clip the gradient norm to this; 0 disables.", DefaultValueFactory = _ => s_trainer.ClipNorm, HelpName = "norm" };
    public static readonly Option<int> LogEvery = new("--log-every") { Description = "Log the loss every this many steps.", DefaultValueFactory = _ => s_trainer.LogEvery, HelpName = "steps" };
    public static readonly Option<string?> InitFrom = new("--init-from") { Description = "Start the model from a checkpoint's weights where names and shapes match (fine-tune a classifier from an mlm or clm run), or from a Hugging Face model folder (config.json and model.safetensors: its architecture, weights and, unless --tokenizer or --vocab is given, its tokenizer; classify and multilabel). The optimizer and data start afresh; a checkpoint trained from a folder keeps needing its config.json and tokenizer.", HelpName = "DIR" };
    public static readonly Option<int> EvalEvery = new("--eval-every") { Description = "classify, multilabel: evaluate on the held-out documents every this many steps (and always at the end).", DefaultValueFactory = _ => s_trainer.EvalEvery, HelpName = "steps" };
    public static readonly Option<string?> Checkpoint = new("--checkpoint") { Description = "Checkpoint folder this run writes at its end, on Ctrl+C and on a fault: model, optimizer, step, stream position, settings (default: a new runs/<task>/<UTC time>/, with runs/<task>/latest pointing at it; 'none' to skip). With several ranks, DIR holds each rank's folder (<UTC time>-rank<r>) and latest-rank<r>, like runs/<task>, and --resume DIR finds each rank's. A run that took no step writes none.", HelpName = "DIR" };
    public static readonly Option<long?> ScheduleSteps = new("--schedule-steps") { Description = "Steps the learning-rate schedule spans (default: --max-steps). Set it when one training is split into several jobs with --resume.", HelpName = "n" };
    public static readonly Option<string> Device = new("--device") { Description = "auto (CUDA when available, else CPU), cpu, or cuda[:N].", DefaultValueFactory = _ => s_device.Device, HelpName = "device" };
    public static readonly Option<int> TorchThreads = new("--torch-threads") { Description = "CPU threads for TorchSharp (0: its default).", DefaultValueFactory = _ => s_device.TorchThreads, HelpName = "n" };

    // Reporting
    public static readonly Option<string?> SummaryJson = new("--summary-json") { Description = "Write the machine-readable run report here (schema: docs/SUMMARY.md).", HelpName = "path" };
    public static readonly Option<string> Progress = new("--progress") { Description = "Progress display: auto (live on a terminal, plain lines otherwise), live, plain, none.", DefaultValueFactory = _ => s_reporting.Progress, HelpName = "mode" };

    // Bench
    public static readonly Option<bool> Ceiling = new("--ceiling") { Description = "After the run, time the tokenizer alone on the same documents (one thread, then --workers) and report the pipeline's efficiency against that ceiling; also time the provider reading them alone, the task's batch builder on their tokens, and the tokenizer on one thread while the provider reads on another (how much the two slow each other on this machine).", DefaultValueFactory = _ => true, HelpName = "true|false" };

    /// <summary>inspect, scan, tasks: what they print on standard output. ('--format' already names the source's format.)</summary>
    public static readonly Option<string> OutputFormat = new("--output-format")
    {
        Description = "What is printed on standard output: 'human' (the default) or 'json' for scripts (inspect: one JSON object per batch, a line each; scan: its summary; tasks: every task and its settings). Schemas: docs/SUMMARY.md.",
        DefaultValueFactory = _ => "human",
        HelpName = "human|json",
    };

    /// <summary>True for <c>--output-format json</c>; a value other than human or json is a usage error.</summary>
    public static bool WantsJson(ParseResult result) => result.GetValue(OutputFormat)?.ToLowerInvariant() switch
    {
        "json" => true,
        null or "human" => false,
        string other => throw new ArgumentException($"--output-format {other}: expected human or json."),
    };

    // Inspect
    public static readonly Option<int> Rows = new("--rows") { Description = "Rows to show per batch.", DefaultValueFactory = _ => 4, HelpName = "n" };
    public static readonly Option<int> Batches = new("--batches") { Description = "Batches to show.", DefaultValueFactory = _ => 2, HelpName = "n" };

    /// <summary>Options every pipeline-running command takes.</summary>
    public static IEnumerable<Option> Pipeline =>
    [
        Task, Source, Weights, Format, TextField, IdField, LabelColumn, .. FormatOptions, OnBadRecord, DecodeThreads, PartsAtOnce, ConnectTimeout, ResponseTimeout, StallTimeout, Epochs, Interleave, ShuffleBuffer, ShuffleStart, Rank, WorldSize, Sharding, Resume,
        Tokenizer, Vocab, Merges, LowerCase, SeqLen, BatchSize, Seed, .. TaskFlags.Select(f => f.Option), Set, Labels, EvalSplit, Plugin, Workers, Queue, MaxSteps, Progress, SummaryJson,
    ];

    /// <summary>Options of the device side.</summary>
    public static IEnumerable<Option> Training => [Model, LearningRate, Warmup, ScheduleSteps, Clip, LogEvery, EvalEvery, InitFrom, Checkpoint, Device, TorchThreads];
}
