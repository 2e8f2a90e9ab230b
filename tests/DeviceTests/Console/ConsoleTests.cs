using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StreamLoader.Cli;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The console run as a separate process, as a user runs it from a shell with no terminal: every command, the exit
/// code of every kind of outcome, stops by signal, and the split roles. Each run is bounded, so a hang fails the test.
/// </summary>
[Collection("console")]
public sealed partial class ConsoleTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(120);

    private static string Jsonl(TempFiles files, string name, int documents, int words = 30) =>
        files.WriteText(name, string.Concat(Enumerable.Range(0, documents).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(words, i)}\"}}\n")));

    /// <summary>A small WordPiece vocabulary for the test words ("word1234" is word ##1 ##2 ##3 ##4); <paramref name="extra"/> lines make a different one.</summary>
    private static string Vocab(TempFiles files, string name, int extra = 0) =>
        files.WriteText(name, string.Join('\n', ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "word", .. Enumerable.Range(0, 10).Select(d => $"##{d}"), .. Enumerable.Range(0, extra).Select(i => $"extra{i}")]) + "\n");

    /// <summary>The classifier the inference examples run: a bag model trained briefly on Made-With-ML into runs/classify.</summary>
    private const string Classifier = "--task classify --all --source {csv} --text-column title,description --label-column tag --vocab {vocab} --model bag --lr 1e-2 --batch-size 16 --max-steps 60 --progress none";

    private static JsonElement Summary(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    [Theory]
    [InlineData("--help")]
    [InlineData("bench", "--help")]
    [InlineData("inspect", "--help")]
    [InlineData("tasks", "--help")]
    [InlineData("doctor", "--help")]
    public async Task Help_EveryCommand_ExitsZeroAndShowsUsage(params string[] args)
    {
        using var files = new TempFiles();

        (int exit, string stdout, _) = await CliProcess.RunAsync(files.Folder, s_limit, args);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownOption_IsAUsageErrorInAFewLines()
    {
        using var files = new TempFiles();

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "--task", "mlm", "--all", "--no-such-option");

        Assert.Equal(ExitCodes.UsageError, exit);
        Assert.Contains("--no-such-option", stderr, StringComparison.Ordinal);
        Assert.True(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 3, stderr);
        Assert.Equal(string.Empty, stdout);
    }

    [Theory]
    [InlineData("--out", "tcp://*:5599")]
    [InlineData("--in", "tcp://127.0.0.1:5599")]
    public async Task All_WithATransportEnd_IsAUsageError(string option, string value)
    {
        using var files = new TempFiles();

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "--task", "mlm", "--all", option, value);

        Assert.Equal(ExitCodes.UsageError, exit);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task DeviceCuda_WithoutCuda_IsADeviceError()
    {
        Skip.If(torch.cuda.is_available(), "CUDA is available here.");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "--all", "--source", docs, "--device", "cuda", "--model", "micro", "--progress", "none");

        Assert.Equal(ExitCodes.DeviceError, exit);
        Assert.Contains("CUDA is not available", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("empty")]
    [InlineData("no-such-field")]
    public async Task ZeroDocuments_IsAnInputErrorThatSaysWhatWasRead(string kind)
    {
        using var files = new TempFiles();
        string docs = kind == "empty" ? files.WriteText("empty.jsonl", string.Empty) : Jsonl(files, "docs.jsonl", 12);
        string[] field = kind == "empty" ? [] : ["--text-field", "body"];

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, ["--all", "--source", docs, "--model", "micro", "--progress", "none", "--summary-json", files.Path("s.json"), .. field]);

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("no documents", stderr, StringComparison.Ordinal);
        Assert.Contains(kind == "empty" ? "0 records read" : "12 records read", stderr, StringComparison.Ordinal);
        Assert.Equal("failed", Summary(files.Path("s.json")).GetProperty("outcome").GetString());
        Assert.False(Directory.Exists(files.Path("runs/mlm")) && Directory.EnumerateFileSystemEntries(files.Path("runs/mlm")).Any(), "a run that read nothing wrote a checkpoint");
    }

    /// <summary>Issue 6, item 1: bench with a step limit on many tiny documents hung in 5 of 10 runs.</summary>
    [Fact]
    public async Task Bench_MaxStepsOnManyTinyDocuments_EndsEveryTime()
    {
        using var files = new TempFiles();
        string docs = files.WriteText("s.jsonl", string.Concat(Enumerable.Range(0, 50_000).Select(i => $"{{\"id\":{i},\"text\":\"word{i} alpha beta gamma\"}}\n")));

        for (int run = 0; run < 6; run++)
        {
            (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, TimeSpan.FromSeconds(60),
                "bench", "--source", docs, "--max-steps", "400", "--batch-size", "4", "--queue", "64", "--workers", "4", "--shuffle-buffer", "0", "--progress", "none", "--summary-json", files.Path("bench.json"));

            Assert.True(exit == ExitCodes.Success, stderr);
            JsonElement summary = Summary(files.Path("bench.json"));
            Assert.Equal("stopped_at_limit", summary.GetProperty("outcome").GetString());
            Assert.Equal(400, summary.GetProperty("batches").GetInt64());
            Assert.True(summary.GetProperty("documents_per_second").GetDouble() > 0);
            Assert.True(summary.GetProperty("batches_per_second").GetDouble() > 0);
            // bench measures its own ceiling on the same documents (issue 11): present and positive, not timed here.
            Assert.True(summary.GetProperty("tokenizer_ceiling_tokens_per_second").GetDouble() > 0);
            Assert.True(summary.GetProperty("tokenizer_single_thread_tokens_per_second").GetDouble() > 0);
            Assert.True(summary.GetProperty("efficiency").GetDouble() > 0);
            Assert.Equal(summary.GetProperty("documents").GetInt64(), summary.GetProperty("ceiling_documents").GetInt64());
            // The provider alone, and the tokenizer beside it (the machine has two cores or more where this runs).
            Assert.True(summary.GetProperty("provider_alone_seconds").GetDouble() > 0);
            Assert.True(summary.GetProperty("provider_tokens_per_second").GetDouble() > 0);
            Assert.Equal(Environment.ProcessorCount > 1, summary.TryGetProperty("tokenizer_beside_provider_tokens_per_second", out JsonElement beside) && beside.GetDouble() > 0);
            Assert.True(summary.GetProperty("allocated_bytes_per_batch").GetDouble() > 0);
            Assert.True(summary.GetProperty("peak_rss_bytes").GetInt64() > 0);
            Assert.True(summary.GetProperty("gc_pause_seconds").GetDouble() >= 0);
            Assert.False(string.IsNullOrEmpty(summary.GetProperty("bottleneck_stage").GetString()));
            // The CPU the process used while the pipeline ran, and what that is in cores: the same two numbers.
            double cpu = summary.GetProperty("pipeline_cpu_seconds").GetDouble();
            Assert.True(cpu > 0);
            Assert.Equal(Environment.ProcessorCount, summary.GetProperty("cores").GetInt32());
            Assert.Equal(cpu / summary.GetProperty("pipeline_seconds").GetDouble(), summary.GetProperty("cores_busy").GetDouble(), 6);
            Assert.Contains("cores busy on average", stderr, StringComparison.Ordinal);
        }
    }

    /// <summary>Issue 6, items 3, 5 and 12: a signal ends training within seconds, with its own checkpoint folder and the documented code.</summary>
    [Theory]
    [InlineData("INT", ExitCodes.Cancelled)]
    [InlineData("TERM", ExitCodes.Terminated)]
    public async Task Signal_DuringTraining_StopsPromptlyWithACheckpoint(string signal, int expected)
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        using CliProcess cli = CliProcess.Start(files.Folder, "--all", "--source", docs, "--model", "micro", "--max-steps", "100000", "--log-every", "5", "--progress", "plain", "--summary-json", "s.json");

        await cli.WaitForOutputAsync("step      5", s_limit);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        cli.Signal(signal);
        int exit = await cli.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(expected, exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:0.0} s to stop");
        Assert.Equal("cancelled", Summary(files.Path("s.json")).GetProperty("outcome").GetString());
        string latest = File.ReadAllText(files.Path("runs/mlm/latest")).Trim();
        Assert.True(File.Exists(files.Path($"runs/mlm/{latest}/checkpoint.json")));
        Assert.True(File.Exists(files.Path($"runs/mlm/{latest}/position.json")));
    }

    /// <summary>Issue 6, item 2: a server that accepts and never answers, or answers and then stalls, ends the run with an input error in seconds.</summary>
    [Theory]
    [InlineData("never answers")]
    [InlineData("stalls after the headers")]
    public async Task HttpSource_ServerStalls_FailsWithinTheTimeoutsWithAnInputError(string behaviour)
    {
        using var files = new TempFiles();
        await using var server = new LoopbackHttpServer(TempFiles.Gzip(TempFiles.CirrusPage("1", "One", TestTokenizer.Words(50))))
        {
            AnswerNothing = behaviour == "never answers",
            StallAfterBytes = behaviour == "never answers" ? -1 : 0,
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, TimeSpan.FromSeconds(90),
            "bench", "--source", server.Url, "--format", "cirrussearch", "--response-timeout", "2", "--stall-timeout", "2", "--progress", "plain");

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"took {clock.Elapsed.TotalSeconds:0} s");
        Assert.Contains(server.Url, stderr, StringComparison.Ordinal);
        Assert.Contains(behaviour == "never answers" ? "no response" : "no data", stderr, StringComparison.Ordinal);
    }

    /// <summary>Issue 6, item 3: every long-running command stops within seconds of a signal.</summary>
    [Theory]
    [InlineData("bench")]
    [InlineData("loader")]
    [InlineData("device")]
    public async Task Signal_DuringAnyCommand_StopsPromptly(string command)
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 2000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        using CliProcess? loader = command == "device"
            ? CliProcess.Start(files.Folder, "--role", "loader", "--source", docs, "--vocab", vocab, "--seq-len", "32", "--epochs", "0", "--out", $"unix:{files.Path("l.sock")}", "--progress", "none")
            : null;
        if (loader is not null)
        {
            await loader.WaitForOutputAsync("waiting for the reader", s_limit);
        }
        string[] args = command switch
        {
            "bench" => ["bench", "--source", docs, "--epochs", "0", "--progress", "plain"],
            "loader" => ["--role", "loader", "--source", docs, "--epochs", "0", "--seq-len", "16", "--batch-size", "1", "--out", "b.frames", "--progress", "plain"],
            _ => ["--role", "device", "--in", $"unix:{files.Path("l.sock")}", "--model", "micro", "--log-every", "5", "--progress", "plain"],
        };
        using CliProcess cli = CliProcess.Start(files.Folder, args);

        await cli.WaitForOutputAsync(command == "device" ? "step      5" : "docs ", s_limit);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        cli.Signal("INT");
        int exit = await cli.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ExitCodes.Cancelled, exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:0.0} s to stop");
        if (loader is not null)
        {
            loader.Signal("INT");
            await loader.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Issue 6, item 5: runs never overwrite each other's checkpoints, and the second continues from the first.</summary>
    [Fact]
    public async Task Runs_EachWritesItsOwnFolder_AndLatestPointsAtTheNewest()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 200);
        string[] run = ["--all", "--source", "docs.jsonl", "--model", "micro", "--max-steps", "3", "--progress", "none"];

        (int first, _, string stderr1) = await CliProcess.RunAsync(files.Folder, s_limit, run);
        (int second, _, string stderr2) = await CliProcess.RunAsync(files.Folder, s_limit, run);
        // Resumed with the source named absolutely this time: the same file, so it continues (item 13).
        (int third, _, string stderr3) = await CliProcess.RunAsync(files.Folder, s_limit, "--resume", "runs/mlm", "--source", docs, "--max-steps", "5", "--progress", "none", "--summary-json", "s.json");

        Assert.True(first == 0, stderr1);
        Assert.True(second == 0, stderr2);
        Assert.True(third == 0, stderr3);
        string[] folders = Directory.GetDirectories(files.Path("runs/mlm")).Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(3, folders.Length);
        Assert.Equal(folders[^1], File.ReadAllText(files.Path("runs/mlm/latest")).Trim());
        JsonElement summary = Summary(files.Path("s.json"));
        Assert.Equal(2, summary.GetProperty("steps").GetInt64());
        Assert.Equal(5, summary.GetProperty("total_steps").GetInt64());
        Assert.EndsWith(folders[1], summary.GetProperty("device").GetProperty("resumed_from").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Issue 6, item 10: inspect --source read stdin instead of the source.</summary>
    [Fact]
    public async Task Inspect_Source_DecodesBatchesFromTheSourceWithoutATerminal()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "inspect", "--source", docs);

        Assert.True(exit == ExitCodes.Success, stderr);
        Assert.Contains("targets", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("stdin", stderr, StringComparison.Ordinal);
    }

    /// <summary>Issue 6, items 8, 9 and 11: the loader honours --max-steps, and a device takes its model's shape from the frames.</summary>
    [Fact]
    public async Task SplitRoles_DeviceBuildsItsModelFromTheFrames()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");
        string other = Vocab(files, "other.txt", extra: 7);

        (int loader, _, string loaderErr) = await CliProcess.RunAsync(files.Folder, s_limit, "--role", "loader", "--source", docs, "--vocab", vocab, "--seq-len", "32", "--batch-size", "4", "--max-steps", "20", "--out", "b.frames", "--progress", "none", "--summary-json", "load.json");
        Assert.True(loader == 0, loaderErr);
        Assert.Equal(20, Summary(files.Path("load.json")).GetProperty("batches").GetInt64());

        (int device, _, string deviceErr) = await CliProcess.RunAsync(files.Folder, s_limit, "--role", "device", "--in", "b.frames", "--model", "micro", "--progress", "none", "--summary-json", "dev.json");
        Assert.True(device == 0, deviceErr);
        JsonElement trained = Summary(files.Path("dev.json"));
        Assert.Equal(20, trained.GetProperty("batches").GetInt64());
        Assert.True(trained.GetProperty("tokens").GetInt64() > 0);
        Assert.Contains("vocab 16,", deviceErr, StringComparison.Ordinal);

        (int wrongVocab, _, string vocabErr) = await CliProcess.RunAsync(files.Folder, s_limit, "--role", "device", "--in", "b.frames", "--vocab", other, "--model", "micro", "--progress", "none");
        Assert.Equal(ExitCodes.UsageError, wrongVocab);
        Assert.Contains("vocabulary size 16 vs 23", vocabErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", vocabErr, StringComparison.Ordinal);

        (int wrongShape, _, string shapeErr) = await CliProcess.RunAsync(files.Folder, s_limit, "--role", "device", "--in", "b.frames", "--seq-len", "64", "--model", "micro", "--progress", "none");
        Assert.Equal(ExitCodes.UsageError, wrongShape);
        Assert.Contains("--seq-len 64, but the frames have rows of 32 tokens", shapeErr, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every example in <c>--help</c> and README.md, run as written with the placeholders filled in (local files for
    /// vocab.txt and docs.jsonl, a loopback server for the dump URL) and a step limit where the example trains.
    /// </summary>
    [SkippableTheory]
    [InlineData("help: main job", "--task mlm --all --model micro --max-steps 3")]
    [InlineData("help: cirrussearch dump", "--task mlm --all --source {wiki} --vocab {vocab} --epochs 1 --model micro --max-steps 3")]
    [InlineData("help: dump while it downloads", "--task mlm --all --source {url} --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: frames on a pipe", "--role loader --out - --vocab {vocab} --max-steps 5 | python3 {repo}/scripts/read_frames.py --summary")]
    [InlineData("help: bench", "bench --source docs.jsonl --vocab {vocab}")]
    [InlineData("help: inspect", "inspect --source docs.jsonl")]
    [InlineData("help: tasks", "tasks")]
    [InlineData("help: clm", "--task clm --all --source docs.jsonl --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: classify", "--task classify --all --source {csv} --text-column title,description --label-column tag --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("readme: classify", "--task classify --all --source {csv} --text-column title,description --label-column tag --vocab {vocab} --eval-split 0.2 --epochs 20 --model bag --lr 1e-2 --batch-size 16 --max-steps 40")]
    [InlineData("tasks.md: multilabel", "--task multilabel --all --source {tsv} --source {dev} --eval-split file:dev.tsv --columns text,labels,id --label-column labels --id-column id --labels {labels} --vocab {vocab} --model bag --seq-len 64 --batch-size 32 --epochs 3 --lr 1e-2 --threshold 0.3 --max-steps 20")]
    [InlineData("tasks.md: plugin", "--plugin {plugin} --task bigram --all --max-steps 5")]
    [InlineData("readme: wikipedia sample", "--task mlm --all --source {wiki} --vocab {vocab} --epochs 1 --seed 1 --summary-json out.json --model micro --max-steps 3")]
    [InlineData("readme: jsonl with tiktoken", "--task mlm --all --source docs.jsonl.gz --tokenizer tiktoken --model micro --max-steps 3")]
    [InlineData("readme: doctor", "doctor")]
    [InlineData("tokenize --help: example", "tokenize --source docs.jsonl --vocab {vocab} --output ids.jsonl")]
    [InlineData("scan --help: cirrussearch", "scan --source {wiki}")]
    [InlineData("readme: scan csv", "scan --source {csv} --text-column title,description --label-column tag --summary-json scan.json")]
    [InlineData("readme: scan tsv", "scan --source {tsv} --columns text,labels,id --label-column labels")]
    [InlineData("readme: mix", "--task mlm --all --source docs.jsonl.gz --source {wiki} --weights 0.7,0.3 --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: infer", Classifier + " && {cli} infer --checkpoint runs/classify --source {csv} --output preds.jsonl")]
    [InlineData("infer --help: keep columns, filter, ranks and merge", Classifier + " && {cli} infer --checkpoint runs/classify --source {csv} --output preds.jsonl --keep-columns title,tag"
        + " && {cli} infer --checkpoint runs/classify --source docs.jsonl --text-column text --output nlp.parquet --filter-by natural-language-processing"
        + " && for r in 0 1 2; do RANK=$r WORLD_SIZE=3 {cli} infer --checkpoint runs/classify --source {csv} --output ranked.jsonl || exit 1; done && {cli} infer --merge --output ranked.jsonl")]
    [InlineData("readme: infer, then filter the Python docs", Classifier + " && {cli} infer --checkpoint runs/classify --source {csv} --output preds.jsonl --keep-columns title,tag"
        + " && {cli} infer --checkpoint runs/classify --source {python} --text-column text --output nlp.parquet --filter-by natural-language-processing")]
    [InlineData("inference.md: task infer and parquet", Classifier + " && {cli} --task infer --checkpoint runs/classify --source {wiki} --text-column text --output nlp.parquet --filter-by natural-language-processing,mlops")]
    public async Task Examples_RunAsAUserWould(string example, string command)
    {
        command = command.Replace("{cli}", $"dotnet {CliProcess.Dll}", StringComparison.Ordinal);
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 40);
        files.WriteBytes("docs.jsonl.gz", TempFiles.Gzip(File.ReadAllText(files.Path("docs.jsonl"))));
        bool needsShared = command.Contains("{wiki}", StringComparison.Ordinal) || command.Contains("{url}", StringComparison.Ordinal) || command.Contains("{vocab}", StringComparison.Ordinal);
        string csv = command.Contains("{csv}", StringComparison.Ordinal) ? SharedData.Require("labelled/made-with-ml/dataset.csv") : string.Empty;
        string tsv = command.Contains("{tsv}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/train.tsv") : string.Empty;
        string dev = command.Contains("{dev}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/dev.tsv") : string.Empty;
        string labels = command.Contains("{labels}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/labels.txt") : string.Empty;
        string plugin = Path.Combine(SharedData.RepositoryRoot, "examples", "BigramTaskPlugin", "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "StreamLoader.BigramTaskPlugin.dll");
        string wiki = needsShared ? SharedData.Require(SharedData.CirrusSample) : string.Empty;
        string python = command.Contains("{python}", StringComparison.Ordinal) ? SharedData.Require(SharedData.PythonDocs) : string.Empty;
        string vocab = needsShared ? SharedData.Require(SharedData.BertVocab) : string.Empty;
        await using var server = new LoopbackHttpServer(needsShared ? File.ReadAllBytes(wiki) : []);
        string line = command.Replace("{wiki}", wiki, StringComparison.Ordinal).Replace("{vocab}", vocab, StringComparison.Ordinal)
            .Replace("{csv}", csv, StringComparison.Ordinal).Replace("{tsv}", tsv, StringComparison.Ordinal).Replace("{dev}", dev, StringComparison.Ordinal)
            .Replace("{labels}", labels, StringComparison.Ordinal).Replace("{plugin}", plugin, StringComparison.Ordinal)
            .Replace("{url}", server.Url, StringComparison.Ordinal).Replace("{python}", python, StringComparison.Ordinal).Replace("{repo}", SharedData.RepositoryRoot, StringComparison.Ordinal);

        // No terminal and nothing on standard input, for every command of a pipeline.
        string shell = $"exec < /dev/null; dotnet {CliProcess.Dll} {line}";
        (int exit, string stdout, string stderr) = await RunProgramAsync(files.Folder, "bash", "-o", "pipefail", "-c", shell);

        Assert.True(exit == 0, $"{example}: '{line}' exited {exit}\n{stderr}");
        Assert.NotEqual(string.Empty, stdout + stderr);
    }

    /// <summary>The examples above cover every example line that --help prints.</summary>
    [Fact]
    public async Task Examples_CoverEveryExampleInHelp()
    {
        using var files = new TempFiles();
        (_, string help, _) = await CliProcess.RunAsync(files.Folder, s_limit, "--help");
        string examplesPart = help[help.IndexOf("Examples:", StringComparison.Ordinal)..help.IndexOf("Usage:", StringComparison.Ordinal)];
        string[] examples = examplesPart.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("streamloader ", StringComparison.Ordinal)).ToArray();

        Assert.Equal(10, examples.Length);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task SplitRoles_LoaderAndDeviceInTwoProcesses_TrainAndBothEndCleanly(string kind)
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 200);
        string vocab = Vocab(files, "vocab.txt");
        (string outAt, string inAt) = kind == "unix" ? ($"unix:{files.Path("l.sock")}", $"unix:{files.Path("l.sock")}") : ($"tcp://127.0.0.1:{FreePort()}", string.Empty);
        if (kind == "tcp")
        {
            inAt = outAt;
        }

        using CliProcess loader = CliProcess.Start(files.Folder, "--role", "loader", "--source", docs, "--vocab", vocab, "--seq-len", "32", "--batch-size", "4", "--out", outAt, "--progress", "none");
        if (kind == "unix")
        {
            await loader.WaitForOutputAsync("waiting for the reader", s_limit);
        }
        using CliProcess device = CliProcess.Start(files.Folder, "--role", "device", "--in", inAt, "--model", "micro", "--max-steps", "10", "--progress", "none", "--summary-json", "dev.json");

        int deviceExit = await device.WaitAsync(s_limit);
        int loaderExit = await loader.WaitAsync(s_limit);

        Assert.True(deviceExit == 0, device.Stderr);
        Assert.True(loaderExit == 0, loader.Stderr);
        Assert.Equal(10, Summary(files.Path("dev.json")).GetProperty("steps").GetInt64());
    }
}
