using System.Text.Json;
using StreamLoader.Cli;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests;

/// <summary>The console's main job run in-process, as a user would run it, with its --summary-json report checked.</summary>
[Collection(TorchCollection.Name)]
public sealed class EndToEndTests
{
    private static async Task<(int ExitCode, JsonElement Summary)> RunAsync(TempFiles files, params string[] args)
    {
        string summaryPath = files.Path("summary.json");
        string[] all = [.. args, "--summary-json", summaryPath, "--progress", "none"];
        if (!args.Contains("--checkpoint"))
        {
            all = [.. all, "--checkpoint", files.Path("checkpoint")];
        }
        // A guard against a hang, not a time limit: beside the unit tests' end-to-end set on a loaded 2-core machine,
        // the Wikipedia sample's epoch at --seq-len 512 ran past 5 minutes (in .ci/run here, twice).
        int exit = await Program.Main(all).WaitAsync(TimeSpan.FromMinutes(12));
        using JsonDocument doc = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        return (exit, doc.RootElement.Clone());
    }

    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task MainJob_WikipediaSampleOneEpoch_Counts106DocumentsAndLossFalls()
    {
        string dump = SharedData.Require(SharedData.CirrusSample);
        string vocab = SharedData.Require(SharedData.BertVocab);
        using var files = new TempFiles();

        (int exit, JsonElement summary) = await RunAsync(files,
            "--task", "mlm", "--all", "--source", dump, "--vocab", vocab, "--epochs", "1", "--seed", "1",
            "--model", "micro", "--seq-len", "512", "--batch-size", "16", "--lr", "3e-3");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("completed", summary.GetProperty("outcome").GetString());
        Assert.Equal(106, summary.GetProperty("documents").GetInt64());
        Assert.Equal(106, summary.GetProperty("provider").GetProperty("documents_emitted").GetInt64());
        Assert.Equal(212, summary.GetProperty("provider").GetProperty("records_read").GetInt64());
        long steps = summary.GetProperty("steps").GetInt64();
        Assert.True(steps > 50, $"{steps} steps");
        Assert.Equal(steps, summary.GetProperty("batches").GetInt64());
        Assert.True(summary.GetProperty("loss_last").GetDouble() < summary.GetProperty("loss_first").GetDouble());
        Assert.True(summary.GetProperty("tokens").GetInt64() > 500_000);
        Assert.True(summary.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.True(summary.GetProperty("wall_seconds").GetDouble() > 0);
        string[] stages = summary.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["provider", "batcher", "device"], stages);
        Assert.True(File.Exists(files.Path("checkpoint/model.bin")));
        Assert.True(File.Exists(files.Path("checkpoint/position.json")));
        Assert.True(File.Exists(files.Path("checkpoint/checkpoint.json")));
        Assert.Equal(files.Path("checkpoint"), summary.GetProperty("device").GetProperty("checkpoint").GetString());
    }

    [Fact]
    public async Task MainJob_BuiltInCorpus_TrainsOfflineAndLossFalls()
    {
        using var files = new TempFiles();

        (int exit, JsonElement summary) = await RunAsync(files, "--task", "mlm", "--all", "--max-steps", "40", "--model", "micro", "--lr", "3e-3", "--warmup", "5");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("stopped_at_limit", summary.GetProperty("outcome").GetString());
        Assert.Equal(40, summary.GetProperty("steps").GetInt64());
        Assert.StartsWith("builtin:", summary.GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.True(summary.GetProperty("loss_last").GetDouble() < summary.GetProperty("loss_first").GetDouble());
    }

    [Fact]
    public async Task MainJob_TruncatedDump_FailsWithInputErrorNamingTheFile()
    {
        using var files = new TempFiles();
        byte[] gz = TempFiles.Gzip(string.Concat(Enumerable.Range(0, 400).Select(i => TempFiles.CirrusPage(i.ToString(), $"T{i}", TestTokenizer.Words(20, i)))));
        string dump = files.WriteBytes("cut-cirrussearch.json.gz", gz[..(gz.Length * 9 / 10)]);

        // A short queue keeps the reader close behind the device, so the fault comes after some steps.
        (int exit, JsonElement summary) = await RunAsync(files, "--task", "mlm", "--all", "--source", dump, "--model", "micro", "--max-steps", "1000", "--queue", "1", "--shuffle-buffer", "0");

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Equal("failed", summary.GetProperty("outcome").GetString());
        string error = summary.GetProperty("error").GetString()!;
        Assert.Contains("cut-cirrussearch.json.gz", error, StringComparison.Ordinal);
        Assert.Contains("truncated or corrupt", error, StringComparison.Ordinal);
        // Steps taken before the fault are kept, and the report says where.
        Assert.True(summary.GetProperty("steps").GetInt64() > 0);
        string checkpoint = summary.GetProperty("device").GetProperty("checkpoint").GetString()!;
        Assert.True(File.Exists(Path.Combine(checkpoint, "model.bin")));
    }

    [Fact]
    public async Task SplitRoles_LoaderToFrameFileThenDevice_TrainsExactlyLikeOneProcess()
    {
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 120).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(40, i)}\"}}\n")));
        string frames = files.Path("batches.frames");
        string[] data = ["--task", "mlm", "--source", source, "--seq-len", "32", "--batch-size", "4", "--seed", "11"];
        string[] model = ["--model", "micro", "--lr", "3e-3", "--warmup", "3"];

        (int loaderExit, JsonElement loader) = await RunAsync(files, [.. data, "--role", "loader", "--out", frames]);
        (int deviceExit, JsonElement device) = await RunAsync(files, [.. data, .. model, "--role", "device", "--in", frames]);
        (int allExit, JsonElement all) = await RunAsync(files, [.. data, .. model, "--all"]);

        Assert.Equal((0, 0, 0), (loaderExit, deviceExit, allExit));
        Assert.Equal("load", loader.GetProperty("command").GetString());
        Assert.Equal(all.GetProperty("batches").GetInt64(), loader.GetProperty("batches").GetInt64());
        Assert.Equal(all.GetProperty("steps").GetInt64(), device.GetProperty("steps").GetInt64());
        Assert.Equal(all.GetProperty("loss_first").GetDouble(), device.GetProperty("loss_first").GetDouble());
        Assert.Equal(all.GetProperty("loss_last").GetDouble(), device.GetProperty("loss_last").GetDouble());
    }

    [Fact]
    public async Task TwoRunsInOneProcess_TheSecondComputesWithItsOwnTorchThreads()
    {
        // libtorch keeps its thread count per OS thread: a run with --torch-threads 1 leaves that count on the threads it
        // used, and threads the pool adds after it take it too. The next run with the default must not inherit it.
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 120).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(40, i)}\"}}\n")));
        string[] run = ["--task", "mlm", "--all", "--source", source, "--seq-len", "32", "--batch-size", "4", "--seed", "11", "--model", "micro", "--lr", "3e-3", "--warmup", "3", "--max-steps", "20"];

        (int firstExit, JsonElement first) = await RunAsync(files, run);
        (int oneThreadExit, _) = await RunAsync(files, [.. run, "--torch-threads", "1"]);
        await GrowThreadPoolAsync(threads: 32);
        (int secondExit, JsonElement second) = await RunAsync(files, run);

        Assert.Equal((0, 0, 0), (firstExit, oneThreadExit, secondExit));
        Assert.Equal(first.GetProperty("steps").GetInt64(), second.GetProperty("steps").GetInt64());
        Assert.Equal(first.GetProperty("loss_last").GetDouble(), second.GetProperty("loss_last").GetDouble());
    }

    /// <summary>Makes the thread pool start new threads (as it does under load), then gives back its minimum.</summary>
    private static async Task GrowThreadPoolAsync(int threads)
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, threads), io);
        try
        {
            using var gate = new ManualResetEventSlim();
            Task[] held = Enumerable.Range(0, threads).Select(_ => Task.Run(() => gate.Wait(TimeSpan.FromSeconds(5)))).ToArray();
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            gate.Set();
            await Task.WhenAll(held);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
    }

    [Fact]
    public async Task Resume_SecondRunStartsWhereTheFirstStopped()
    {
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 300).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(20, i)}\"}}\n")));
        string[] common = ["--task", "mlm", "--all", "--source", source, "--model", "micro", "--seq-len", "64", "--batch-size", "4", "--shuffle-buffer", "16", "--seed", "4"];

        (int exit1, JsonElement first) = await RunAsync(files, [.. common, "--max-steps", "20", "--checkpoint", files.Path("first")]);
        Assert.Equal(ExitCodes.Success, exit1);
        using JsonDocument saved = JsonDocument.Parse(File.ReadAllText(files.Path("first/position.json")));
        long resumeAt = saved.RootElement.GetProperty("emitted_total").GetInt64();
        Assert.Equal(80, resumeAt); // 20 steps x 4 rows, one row per document: resumes exactly after the 80th

        // Only --resume: the source, seed, shapes and model come from the checkpoint.
        (int exit2, JsonElement second) = await RunAsync(files, ["--resume", files.Path("first"), "--max-steps", "0", "--checkpoint", files.Path("second")]);
        Assert.Equal(ExitCodes.Success, exit2);
        Assert.Equal(resumeAt, second.GetProperty("provider").GetProperty("resume_skipped").GetInt64());
        Assert.Equal(300 - resumeAt, second.GetProperty("documents").GetInt64());
        Assert.Equal(20 + second.GetProperty("steps").GetInt64(), second.GetProperty("total_steps").GetInt64());
    }

    /// <summary>
    /// A run stopped at step N and resumed gives the same losses from step N+1 on as the run that
    /// was never stopped. Documents span several rows, so the stop falls inside a document, and the schedule spans
    /// both parts (--schedule-steps).
    /// </summary>
    [Fact]
    public async Task Resume_StoppedAtStepNThenResumed_LossesMatchTheUninterruptedRun()
    {
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 60).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(70 + (i * 13 % 50), i)}\"}}\n")));
        string vocab = Console.CliFixtures.Vocab(files, "vocab.txt");
        string[] common = ["--task", "mlm", "--all", "--source", source, "--vocab", vocab, "--model", "micro", "--seq-len", "32", "--batch-size", "3", "--shuffle-buffer", "8", "--seed", "7", "--lr", "3e-3", "--warmup", "4", "--torch-threads", "1"];

        (int exitA, JsonElement straight) = await RunAsync(files, [.. common, "--max-steps", "30", "--checkpoint", files.Path("a")]);
        (int exitB1, JsonElement part1) = await RunAsync(files, [.. common, "--max-steps", "13", "--schedule-steps", "30", "--checkpoint", files.Path("b1")]);
        (int exitB2, JsonElement part2) = await RunAsync(files, ["--resume", files.Path("b1"), "--max-steps", "30", "--torch-threads", "1", "--checkpoint", files.Path("b2")]);

        Assert.Equal((0, 0, 0), (exitA, exitB1, exitB2));
        double[] a = Losses(straight);
        double[] b = [.. Losses(part1), .. Losses(part2)];
        Assert.Equal(30, a.Length);
        Assert.Equal(13, Losses(part1).Length);
        // Bit-identical but for float32 rounding: libtorch's CPU reductions may sum in another order from one process
        // to the next (seen: 10.281120 against 10.281119 at one step, identical again at the next).
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * Math.Abs(a[i]), $"step {i + 1}: {a[i]:R} uninterrupted, {b[i]:R} resumed");
        }
        Assert.NotEqual(0, JsonDocument.Parse(File.ReadAllText(files.Path("b1/checkpoint.json"))).RootElement.GetProperty("resume_offset").GetInt64());
    }

    /// <summary>
    /// With two sources of other formats mixed by weight and shuffled, a run stopped after N steps and resumed
    /// trains on exactly the batches the uninterrupted run trained on (the losses match step for step).
    /// </summary>
    [Theory]
    [InlineData(5)]
    [InlineData(17)]
    public async Task Resume_MixedAndShuffledSources_LossesMatchTheUninterruptedRun(int stopAt)
    {
        using var files = new TempFiles();
        string jsonl = files.WriteText("a.jsonl", string.Concat(Enumerable.Range(0, 50).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(40 + (i * 7 % 30), i)}\"}}\n")));
        string csv = files.WriteBytes("b.csv.gz", TempFiles.Gzip("id,text\n" + string.Concat(Enumerable.Range(0, 12).Select(i => $"b{i},\"{TestTokenizer.Words(25, 1000 + i)}\"\n"))));
        string vocab = Console.CliFixtures.Vocab(files, "vocab.txt");
        string[] common = ["--task", "mlm", "--all", "--source", jsonl, "--source", csv, "--weights", "0.6,0.4", "--vocab", vocab, "--model", "micro", "--seq-len", "32", "--batch-size", "3",
            "--shuffle-buffer", "8", "--seed", "9", "--lr", "3e-3", "--warmup", "4", "--torch-threads", "1"];

        (int exitA, JsonElement straight) = await RunAsync(files, [.. common, "--max-steps", "25", "--checkpoint", files.Path("a")]);
        (int exitB1, JsonElement part1) = await RunAsync(files, [.. common, "--max-steps", stopAt.ToString(System.Globalization.CultureInfo.InvariantCulture), "--schedule-steps", "25", "--checkpoint", files.Path("b1")]);
        (int exitB2, JsonElement part2) = await RunAsync(files, ["--resume", files.Path("b1"), "--max-steps", "25", "--torch-threads", "1", "--checkpoint", files.Path("b2")]);

        Assert.Equal((0, 0, 0), (exitA, exitB1, exitB2));
        Assert.StartsWith("mix of", straight.GetProperty("source").GetString(), StringComparison.Ordinal);
        double[] a = Losses(straight);
        double[] b = [.. Losses(part1), .. Losses(part2)];
        Assert.Equal(25, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * Math.Abs(a[i]), $"step {i + 1}: {a[i]:R} uninterrupted, {b[i]:R} resumed");
        }
    }

    /// <summary>
    /// Every training task continues exactly from --resume: the losses of a run stopped at step N and resumed
    /// match the uninterrupted run's, step for step (packed rows that end inside a document included).
    /// </summary>
    [Theory]
    [InlineData("clm", 7)]
    [InlineData("span", 5)]
    [InlineData("classify", 6)]
    [InlineData("multilabel", 6)]
    [InlineData("mlm-pack", 7)]
    public async Task Resume_EveryTask_LossesMatchTheUninterruptedRun(string task, int stopAt)
    {
        using var files = new TempFiles();
        string[] labels = ["red", "green", "blue"];
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 120).Select(i =>
            $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(8 + (i * 13 % 40), i % 9)}\",\"label\":{(task == "multilabel" ? $"[\"{labels[i % 3]}\",\"{labels[(i / 3) % 3]}\"]" : $"\"{labels[i % 9 % 3]}\"")}}}\n")));
        string[] taskArgs = task == "mlm-pack" ? ["--task", "mlm", "--pack", "true"] : task is "classify" or "multilabel" ? ["--task", task, "--eval-split", "0.3"] : ["--task", task];
        string[] common = [.. taskArgs, "--all", "--source", source, "--model", "micro", "--seq-len", "32", "--batch-size", "3", "--shuffle-buffer", "8", "--seed", "5",
            "--lr", "3e-3", "--warmup", "2", "--torch-threads", "1", "--epochs", "2"];

        (int exitA, JsonElement straight) = await RunAsync(files, [.. common, "--max-steps", "16", "--checkpoint", files.Path("a")]);
        (int exitB1, JsonElement part1) = await RunAsync(files, [.. common, "--max-steps", stopAt.ToString(System.Globalization.CultureInfo.InvariantCulture), "--schedule-steps", "16", "--checkpoint", files.Path("b1")]);
        (int exitB2, JsonElement part2) = await RunAsync(files, ["--resume", files.Path("b1"), "--max-steps", "16", "--torch-threads", "1", "--checkpoint", files.Path("b2")]);

        Assert.Equal((0, 0, 0), (exitA, exitB1, exitB2));
        double[] a = Losses(straight);
        double[] b = [.. Losses(part1), .. Losses(part2)];
        Assert.Equal(16, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * Math.Abs(a[i]), $"{task} step {i + 1}: {a[i]:R} uninterrupted, {b[i]:R} resumed");
        }
        if (task is "classify" or "multilabel")
        {
            JsonElement evaluation = straight.GetProperty("device").GetProperty("evaluation");
            Assert.Equal(labels.Order(StringComparer.Ordinal), evaluation.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));
            Assert.True(evaluation.GetProperty("evaluations")[0].GetProperty("rows").GetInt64() > 0);
            Assert.True(evaluation.GetProperty("baselines").TryGetProperty("majority_class", out _));
        }
        else
        {
            Assert.True(straight.GetProperty("batcher").GetProperty("padding_fraction").GetDouble() < (task == "span" ? 0.2 : 0.05));
        }
    }

    /// <summary>A task from an assembly outside tasks/ loads through --plugin and trains, with no edit to the services.</summary>
    [Fact]
    public async Task Plugin_ExternalAssembly_LoadsAndTrains()
    {
        // tests/DeviceTests/bin/<Configuration>/net10.0/ -> examples/BigramTaskPlugin/bin/<Configuration>/net10.0/
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        string plugin = Path.Combine(SharedData.RepositoryRoot, "examples", "BigramTaskPlugin", "bin", configuration, "net10.0", "StreamLoader.BigramTaskPlugin.dll");
        Assert.True(File.Exists(plugin), $"{plugin} was not built");
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 40).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(30, i % 4)}\"}}\n")));

        (int exit, JsonElement summary) = await RunAsync(files, "--plugin", plugin, "--task", "bigram", "--all", "--source", source, "--seq-len", "16", "--batch-size", "4", "--max-steps", "12", "--lr", "0.05", "--warmup", "0");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("bigram", summary.GetProperty("task").GetString());
        Assert.Equal(12, summary.GetProperty("steps").GetInt64());
        Assert.True(summary.GetProperty("loss_last").GetDouble() < summary.GetProperty("loss_first").GetDouble());
    }

    [Fact]
    public async Task Resume_GivenSettingThatContradictsTheCheckpoint_IsAUsageErrorNamingIt()
    {
        using var files = new TempFiles();
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 40).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(20, i)}\"}}\n")));
        string vocab = Console.CliFixtures.Vocab(files, "vocab.txt");
        (int exit1, _) = await RunAsync(files, ["--all", "--source", source, "--vocab", vocab, "--model", "micro", "--seq-len", "32", "--batch-size", "4", "--max-steps", "3", "--seed", "1", "--checkpoint", files.Path("first")]);
        Assert.Equal(ExitCodes.Success, exit1);

        int exit2 = await Program.Main(["--resume", files.Path("first"), "--seed", "2", "--progress", "none"]).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(ExitCodes.UsageError, exit2);
    }

    private static double[] Losses(JsonElement summary) =>
        summary.GetProperty("device").GetProperty("loss_curve").EnumerateArray().Select(e => e.GetDouble()).ToArray();
}
