using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StreamLoader.Cli;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The console run as a separate process, as a user runs it from a shell with no terminal: every command, the exit
/// code of every kind of outcome, stops by signal, and the split roles. Each run is bounded, so a hang fails the test.
/// </summary>
public sealed class ConsoleTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("bench", "--help")]
    [InlineData("inspect", "--help")]
    [InlineData("tasks", "--help")]
    [InlineData("doctor", "--help")]
    public async Task Help_EveryCommand_ExitsZeroAndShowsUsage(params string[] args)
    {
        using var files = new TempFiles();

        (int exit, string stdout, _) = await CliProcess.RunAsync(files.Folder, Limit, args);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>--source @list.txt</c> as README writes it: a file listing paths and URLs, one per line, read as one source
    /// (not expanded by the command-line parser as a response file of arguments); a missing entry is an input error
    /// naming it.
    /// </summary>
    [Fact]
    public async Task SourceList_PathsAndUrls_ReadAsOneSource_AndAMissingEntryIsAnInputErrorNamingIt()
    {
        using var files = new TempFiles();
        string a = Jsonl(files, "a.jsonl", 7);
        string b = Jsonl(files, "b.jsonl", 5);
        await using var server = new LoopbackHttpServer(TempFiles.Gzip(File.ReadAllText(Jsonl(files, "c.jsonl", 3)))); // served as dump.json.gz
        files.WriteText("list.txt", $"# the corpus\n{a}\n{b}\n\n{server.Url}\n");
        files.WriteText("broken.txt", $"{a}\n{files.Path("missing.jsonl")}\n{b}\n");

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "scan", "--source", "@list.txt", "--format", "jsonl", "--summary-json", "scan.json");
        (int missing, _, string missingErr) = await CliProcess.RunAsync(files.Folder, Limit, "scan", "--source", "@broken.txt", "--format", "jsonl");

        Assert.True(exit == ExitCodes.Success, stderr);
        Assert.Equal(15, Summary(files.Path("scan.json")).GetProperty("documents").GetInt64());
        Assert.Equal(ExitCodes.InputError, missing);
        Assert.Contains(files.Path("missing.jsonl"), missingErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownOption_IsAUsageErrorInAFewLines()
    {
        using var files = new TempFiles();

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "mlm", "--all", "--no-such-option");

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

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "mlm", "--all", option, value);

        Assert.Equal(ExitCodes.UsageError, exit);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task DeviceCuda_WithoutCuda_IsADeviceError()
    {
        Skip.If(torch.cuda.is_available(), "CUDA is available here.");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--source", docs, "--device", "cuda", "--model", "micro", "--progress", "none");

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

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["--all", "--source", docs, "--model", "micro", "--progress", "none", "--summary-json", files.Path("s.json"), .. field]);

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("no documents", stderr, StringComparison.Ordinal);
        Assert.Contains(kind == "empty" ? "0 records read" : "12 records read", stderr, StringComparison.Ordinal);
        Assert.Equal("failed", Summary(files.Path("s.json")).GetProperty("outcome").GetString());
        Assert.False(Directory.Exists(files.Path("runs/mlm")) && Directory.EnumerateFileSystemEntries(files.Path("runs/mlm")).Any(), "a run that read nothing wrote a checkpoint");
    }

    /// <summary>bench with a step limit on many tiny documents ends every time (it once hung in 5 runs of 10).</summary>
    [Fact]
    public async Task Bench_MaxStepsOnManyTinyDocuments_EndsEveryTime()
    {
        using var files = new TempFiles();

        // The ceiling is measured after the pipeline has stopped, so it has no part in the hang: left out of the repeats.
        for (int run = 0; run < 6; run++)
        {
            JsonElement summary = (await BenchTinyDocumentsAsync(files, "--ceiling", "false")).Summary;

            Assert.True(summary.GetProperty("documents_per_second").GetDouble() > 0);
            Assert.True(summary.GetProperty("batches_per_second").GetDouble() > 0);
        }
    }

    /// <summary>bench to a limit of 400 batches over 50,000 four-word documents; the run ended at the limit.</summary>
    private static async Task<(JsonElement Summary, string Stderr)> BenchTinyDocumentsAsync(TempFiles files, params string[] more)
    {
        string docs = files.Path("s.jsonl");
        if (!File.Exists(docs))
        {
            files.WriteText("s.jsonl", string.Concat(Enumerable.Range(0, 50_000).Select(i => $"{{\"id\":{i},\"text\":\"word{i} alpha beta gamma\"}}\n")));
        }
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, TimeSpan.FromSeconds(60),
            ["bench", "--source", docs, "--max-steps", "400", "--batch-size", "4", "--queue", "64", "--workers", "4", "--shuffle-buffer", "0", "--progress", "none", "--summary-json", files.Path("bench.json"), .. more]);

        Assert.True(exit == ExitCodes.Success, stderr);
        JsonElement summary = Summary(files.Path("bench.json"));
        Assert.Equal("stopped_at_limit", summary.GetProperty("outcome").GetString());
        Assert.Equal(400, summary.GetProperty("batches").GetInt64());
        return (summary, stderr);
    }

    /// <summary>bench's report: its own ceiling on the same documents, the provider alone and the tokenizer beside it, allocation, memory, GC and CPU.</summary>
    [Fact]
    public async Task Bench_ReportsTheCeilingAndWhereTheTimeWent()
    {
        using var files = new TempFiles();

        (JsonElement summary, string stderr) = await BenchTinyDocumentsAsync(files);

        // bench measures its own ceiling on the same documents: present and positive, not timed here.
        Assert.True(summary.GetProperty("tokenizer_ceiling_tokens_per_second").GetDouble() > 0);
        Assert.True(summary.GetProperty("tokenizer_single_thread_tokens_per_second").GetDouble() > 0);
        Assert.True(summary.GetProperty("efficiency").GetDouble() > 0);
        Assert.Equal(summary.GetProperty("documents").GetInt64(), summary.GetProperty("ceiling_documents").GetInt64());
        // The provider alone, and the tokenizer beside it (the machine has two cores or more where this runs).
        Assert.True(summary.GetProperty("provider_alone_seconds").GetDouble() > 0);
        Assert.True(summary.GetProperty("provider_tokens_per_second").GetDouble() > 0);
        Assert.Equal(Environment.ProcessorCount > 1, summary.TryGetProperty("tokenizer_beside_provider_tokens_per_second", out JsonElement beside) && beside.GetDouble() > 0);
        // What limits the machine, from those two rates: threads fed, the CPU-bound limit and the fraction of it reached.
        double provider = summary.GetProperty("provider_tokens_per_second").GetDouble();
        double perThread = summary.GetProperty("tokenizer_single_thread_tokens_per_second").GetDouble();
        // The serial stage alone (JSON Lines: read and frame, without the decode) over the same records.
        Assert.True(summary.GetProperty("provider_serial_seconds").GetDouble() > 0);
        double serial = summary.GetProperty("provider_serial_tokens_per_second").GetDouble();
        Assert.True(serial > 0);
        Assert.Equal(serial / perThread, summary.GetProperty("tokenizer_threads_fed").GetDouble(), 6);
        Assert.Contains("provider's serial stage", stderr, StringComparison.Ordinal);
        double limit = Environment.ProcessorCount / ((1 / perThread) + (1 / provider));
        Assert.Equal(limit, summary.GetProperty("cpu_bound_limit_tokens_per_second").GetDouble(), 3);
        Assert.Equal(summary.GetProperty("pipeline_tokens_per_second").GetDouble() / limit, summary.GetProperty("fraction_of_cpu_bound_limit").GetDouble(), 6);
        // The task's batch builder on the same documents' tokens, and the limit with its CPU per token added: below L.
        double builder = summary.GetProperty("batch_builder_tokens_per_second").GetDouble();
        Assert.True(builder > 0);
        double withBatching = Environment.ProcessorCount / ((1 / perThread) + (1 / provider) + (1 / builder));
        Assert.Equal(withBatching, summary.GetProperty("cpu_bound_limit_with_batching_tokens_per_second").GetDouble(), 3);
        Assert.True(withBatching < limit);
        Assert.Equal(summary.GetProperty("pipeline_tokens_per_second").GetDouble() / withBatching, summary.GetProperty("fraction_of_cpu_bound_limit_with_batching").GetDouble(), 6);
        Assert.Contains("batch building", stderr, StringComparison.Ordinal);
        Assert.Contains("what limits this machine", stderr, StringComparison.Ordinal);
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

    /// <summary>A signal ends training within seconds, with its own checkpoint folder and the documented code.</summary>
    [Theory]
    [InlineData("INT", ExitCodes.Cancelled)]
    [InlineData("TERM", ExitCodes.Terminated)]
    public async Task Signal_DuringTraining_StopsPromptlyWithACheckpoint(string signal, int expected)
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        using CliProcess cli = CliProcess.Start(files.Folder, "--all", "--source", docs, "--vocab", vocab, "--model", "micro", "--max-steps", "100000", "--log-every", "5", "--progress", "plain", "--summary-json", "s.json");

        await cli.WaitForOutputAsync("step      5", Limit);
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

    /// <summary>
    /// SIGTERM with the batch queue full: the run finishes the step in progress, saves and exits, without training the
    /// queued batches first (a scheduler's grace period is one step plus the save); the checkpoint is that of the last
    /// trained batch, so a resume continues the loss curve of an uninterrupted run.
    /// </summary>
    [Fact]
    public async Task Sigterm_WithAFullQueue_StopsAfterTheCurrentStep_AndTheResumeContinuesTheUninterruptedCurve()
    {
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 3000, words: 60);
        Vocab(files, "vocab.txt");
        string[] common = ["--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--seq-len", "128", "--batch-size", "16", "--queue", "32", "--seed", "3", "--lr", "3e-3", "--torch-threads", "1", "--max-steps", "150", "--schedule-steps", "150"];

        (int straightExit, _, string straightErr) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--checkpoint", "a", "--progress", "none", "--summary-json", "a.json"]);
        Assert.True(straightExit == 0, straightErr);
        using CliProcess stopped = CliProcess.Start(files.Folder, [.. common, "--checkpoint", "b", "--log-every", "1", "--progress", "plain", "--summary-json", "b.json"]);
        await stopped.WaitForOutputAsync("step     20", Limit);
        stopped.Signal("TERM");
        Assert.Equal(ExitCodes.Terminated, await stopped.WaitAsync(Limit));
        (int resumedExit, _, string resumedErr) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "b", "--checkpoint", "c", "--torch-threads", "1", "--progress", "none", "--summary-json", "c.json");
        Assert.True(resumedExit == 0, resumedErr);

        // After the signal at most the step in progress is logged: the queued batches were not trained.
        string afterSignal = stopped.Stderr[stopped.Stderr.IndexOf("SIGTERM: stopping", StringComparison.Ordinal)..];
        int stepsAfter = afterSignal.Split('\n').Count(l => l.StartsWith("step ", StringComparison.Ordinal));
        Assert.True(stepsAfter <= 1, $"{stepsAfter} steps were taken after SIGTERM:\n{afterSignal}");
        double[] straight = Losses(Summary(files.Path("a.json")));
        double[] first = Losses(Summary(files.Path("b.json")));
        double[] second = Losses(Summary(files.Path("c.json")));
        Assert.InRange(first.Length, 20, 149); // the summary's loss curve has every step up to 200
        Assert.Equal(straight.Length, first.Length + second.Length);
        double[] resumed = [.. first, .. second];
        for (int i = 0; i < straight.Length; i++)
        {
            Assert.True(Math.Abs(straight[i] - resumed[i]) <= 1e-5 * Math.Abs(straight[i]), $"step {i + 1}: {straight[i]:R} uninterrupted, {resumed[i]:R} stopped by SIGTERM and resumed");
        }

        static double[] Losses(JsonElement summary) => summary.GetProperty("device").GetProperty("loss_curve").EnumerateArray().Select(e => e.GetDouble()).ToArray();
    }

    /// <summary>
    /// Ctrl+C twice in a row: the run either got its checkpoint saved before the second (exit 130, and the checkpoint is
    /// there) or exits at once saying nothing more was saved (exit 6) — never 130 without a checkpoint.
    /// </summary>
    [Fact]
    public async Task SecondCtrlC_NeverPromisesASaveItDidNotMake()
    {
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 3000, words: 60);
        Vocab(files, "vocab.txt");
        for (int attempt = 0; attempt < 3; attempt++)
        {
            string checkpoint = $"ck{attempt}";
            using CliProcess run = CliProcess.Start(files.Folder, "--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--seq-len", "128", "--batch-size", "16", "--max-steps", "100000", "--log-every", "5", "--checkpoint", checkpoint, "--progress", "plain");
            await run.WaitForOutputAsync("step      5", Limit);

            run.Signal("INT");
            run.Signal("INT");
            int exit = await run.WaitAsync(Limit);

            Assert.True(exit is ExitCodes.Cancelled or ExitCodes.Abandoned, $"exit {exit}\n{run.Stderr}");
            if (exit == ExitCodes.Cancelled)
            {
                Assert.True(File.Exists(files.Path($"{checkpoint}/{StreamLoader.Cli.Checkpoints.CheckpointManifest.FileName}")), "exit 130 without a checkpoint");
            }
            else
            {
                Assert.Contains("nothing more is saved", run.Stderr, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>A server that accepts and never answers, or answers and then stalls, ends the run with an input error in seconds.</summary>
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
            "bench", "--source", server.Url, "--format", "cirrussearch", "--connect-timeout", "2", "--response-timeout", "2", "--stall-timeout", "2", "--ceiling", "false", "--progress", "plain");

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"took {clock.Elapsed.TotalSeconds:0} s");
        Assert.Contains(server.Url, stderr, StringComparison.Ordinal);
        Assert.Contains(behaviour == "never answers" ? "no response" : "no data", stderr, StringComparison.Ordinal);
    }

    /// <summary>Every long-running command stops within seconds of a signal.</summary>
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
            await loader.WaitForOutputAsync("waiting for the reader", Limit);
        }
        string[] args = command switch
        {
            "bench" => ["bench", "--source", docs, "--epochs", "0", "--progress", "plain"],
            "loader" => ["--role", "loader", "--source", docs, "--epochs", "0", "--seq-len", "16", "--batch-size", "1", "--out", "b.frames", "--progress", "plain"],
            _ => ["--role", "device", "--in", $"unix:{files.Path("l.sock")}", "--model", "micro", "--log-every", "5", "--progress", "plain"],
        };
        using CliProcess cli = CliProcess.Start(files.Folder, args);

        await cli.WaitForOutputAsync(command == "device" ? "step      5" : "docs ", Limit);
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

    /// <summary>Runs never overwrite each other's checkpoints, and the second continues from the first.</summary>
    [Fact]
    public async Task Runs_EachWritesItsOwnFolder_AndLatestPointsAtTheNewest()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 200);
        Vocab(files, "vocab.txt");
        string[] run = ["--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--max-steps", "3", "--progress", "none"];

        (int first, _, string stderr1) = await CliProcess.RunAsync(files.Folder, Limit, run);
        (int second, _, string stderr2) = await CliProcess.RunAsync(files.Folder, Limit, run);
        // Resumed with the source named absolutely this time: the same file, so it continues.
        (int third, _, string stderr3) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "runs/mlm", "--source", docs, "--max-steps", "5", "--progress", "none", "--summary-json", "s.json");

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

    /// <summary>A resume that --max-steps already reaches (the main job, then --resume runs/mlm) says to raise it, not silently nothing.</summary>
    [Fact]
    public async Task Resume_AtTheStepLimitAlready_SaysToRaiseMaxSteps()
    {
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 200);
        Vocab(files, "vocab.txt");
        (int first, _, string stderr1) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--max-steps", "3", "--progress", "none");
        Assert.True(first == 0, stderr1);

        (int again, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "runs/mlm", "--progress", "none", "--summary-json", "s.json");

        Assert.True(again == 0, stderr);
        Assert.Equal(0, Summary(files.Path("s.json")).GetProperty("steps").GetInt64());
        Assert.Contains("nothing to train: the checkpoint is at step 3 and --max-steps 3", stderr, StringComparison.Ordinal);
        Assert.Contains("--max-steps 6", stderr, StringComparison.Ordinal);
    }

    /// <summary>A checkpoint file cut short or changed in place at its size is named as damaged on resume (exit 3), never loaded silently.</summary>
    [Theory]
    [InlineData("optimizer.bin", "cut")]
    [InlineData("model.bin", "changed")]
    public async Task Resume_DamagedCheckpointFile_IsAnInputErrorNamingIt(string file, string damage)
    {
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 100);
        Vocab(files, "vocab.txt");
        (int first, _, string stderr1) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--max-steps", "3", "--checkpoint", "ck", "--progress", "none");
        Assert.True(first == 0, stderr1);
        string path = files.Path($"ck/{file}");
        byte[] bytes = File.ReadAllBytes(path);
        if (damage == "cut")
        {
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        }
        else
        {
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(path, bytes);
        }

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "ck", "--max-steps", "6", "--progress", "none");

        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains(path, stderr, StringComparison.Ordinal);
        Assert.Contains("the checkpoint file is damaged", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    /// <summary>A checkpoint folder that cannot be written is found before the first step (exit 5), not after the training.</summary>
    [Fact]
    public async Task Checkpoint_NotWritable_IsAnOutputErrorBeforeTheFirstStep()
    {
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 100);
        Vocab(files, "vocab.txt");
        string notAFolder = files.WriteText("taken", "a file where the checkpoint folder's parent should be");

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--source", "docs.jsonl", "--vocab", "vocab.txt", "--model", "micro", "--max-steps", "3", "--log-every", "1", "--checkpoint", Path.Combine(notAFolder, "ck"), "--progress", "plain");

        Assert.Equal(ExitCodes.OutputError, exit);
        Assert.Contains("the checkpoint cannot be written there", stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was trained", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("step      1", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// The disk fills up while the run trains (a small tmpfs, filled from outside): the save fails with exit 5 naming
    /// the folder, and the run folder it started is removed rather than left holding the disk. Skips where this
    /// process may not mount a file system (it needs root).
    /// </summary>
    [SkippableFact]
    public async Task DiskFullAtTheSave_IsAnOutputError_AndLeavesNoPartialCheckpoint()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string disk = files.Path("disk");
        Directory.CreateDirectory(disk);
        using (System.Diagnostics.Process mount = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk]) { RedirectStandardError = true })!)
        {
            await mount.WaitForExitAsync();
            Skip.If(mount.ExitCode != 0, $"cannot mount a small tmpfs here (needs root): {mount.StandardError.ReadToEnd().Trim()}");
        }
        try
        {
            using CliProcess run = CliProcess.Start(disk, "--all", "--source", docs, "--vocab", vocab, "--model", "micro", "--max-steps", "100000", "--log-every", "5", "--progress", "plain");
            await run.WaitForOutputAsync("step     10", Limit);
            long free = new DriveInfo(disk).AvailableFreeSpace;
            using (FileStream filler = File.Create(Path.Combine(disk, "filler")))
            {
                filler.SetLength(Math.Max(0, free - (16 << 10)));
                filler.Write(new byte[1]); // tmpfs allocates on write: touch the last page too
                filler.Position = 0;
                byte[] block = new byte[1 << 16];
                for (long written = 0; written < free - (16 << 10); written += block.Length)
                {
                    filler.Write(block, 0, (int)Math.Min(block.Length, free - (16 << 10) - written));
                }
            }
            run.Signal("INT");
            int exit = await run.WaitAsync(Limit);

            Assert.Equal(ExitCodes.OutputError, exit);
            Assert.Contains("could not be", run.Stderr, StringComparison.Ordinal);
            Assert.Contains("was removed", run.Stderr, StringComparison.Ordinal);
            string runs = Path.Combine(disk, "runs", "mlm");
            Assert.Empty(Directory.Exists(runs) ? Directory.GetDirectories(runs) : []);
        }
        finally
        {
            using System.Diagnostics.Process umount = System.Diagnostics.Process.Start("umount", [disk])!;
            await umount.WaitForExitAsync();
        }
    }

    /// <summary>inspect --source reads the source (not standard input) where there is no terminal.</summary>
    [Fact]
    public async Task Inspect_Source_DecodesBatchesFromTheSourceWithoutATerminal()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "inspect", "--source", docs);

        Assert.True(exit == ExitCodes.Success, stderr);
        Assert.Contains("targets", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("stdin", stderr, StringComparison.Ordinal);
    }

    /// <summary>The loader honours --max-steps, and a device takes its model's shape from the frames.</summary>
    [Fact]
    public async Task SplitRoles_DeviceBuildsItsModelFromTheFrames()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");
        string other = Vocab(files, "other.txt", extra: 7);

        (int loader, _, string loaderErr) = await CliProcess.RunAsync(files.Folder, Limit, "--role", "loader", "--source", docs, "--vocab", vocab, "--seq-len", "32", "--batch-size", "4", "--max-steps", "20", "--out", "b.frames", "--progress", "none", "--summary-json", "load.json");
        Assert.True(loader == 0, loaderErr);
        Assert.Equal(20, Summary(files.Path("load.json")).GetProperty("batches").GetInt64());

        (int device, _, string deviceErr) = await CliProcess.RunAsync(files.Folder, Limit, "--role", "device", "--in", "b.frames", "--model", "micro", "--progress", "none", "--summary-json", "dev.json");
        Assert.True(device == 0, deviceErr);
        JsonElement trained = Summary(files.Path("dev.json"));
        Assert.Equal(20, trained.GetProperty("batches").GetInt64());
        Assert.True(trained.GetProperty("tokens").GetInt64() > 0);
        Assert.Contains("vocab 16,", deviceErr, StringComparison.Ordinal);

        (int wrongVocab, _, string vocabErr) = await CliProcess.RunAsync(files.Folder, Limit, "--role", "device", "--in", "b.frames", "--vocab", other, "--model", "micro", "--progress", "none");
        Assert.Equal(ExitCodes.UsageError, wrongVocab);
        Assert.Contains("vocabulary size 16 vs 23", vocabErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", vocabErr, StringComparison.Ordinal);

        (int wrongShape, _, string shapeErr) = await CliProcess.RunAsync(files.Folder, Limit, "--role", "device", "--in", "b.frames", "--seq-len", "64", "--model", "micro", "--progress", "none");
        Assert.Equal(ExitCodes.UsageError, wrongShape);
        Assert.Contains("--seq-len 64, but the frames have rows of 32 tokens", shapeErr, StringComparison.Ordinal);
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
            await loader.WaitForOutputAsync("waiting for the reader", Limit);
        }
        using CliProcess device = CliProcess.Start(files.Folder, "--role", "device", "--in", inAt, "--model", "micro", "--max-steps", "10", "--progress", "none", "--summary-json", "dev.json");

        int deviceExit = await device.WaitAsync(Limit);
        int loaderExit = await loader.WaitAsync(Limit);

        Assert.True(deviceExit == 0, device.Stderr);
        Assert.True(loaderExit == 0, loader.Stderr);
        Assert.Equal(10, Summary(files.Path("dev.json")).GetProperty("steps").GetInt64());
    }
}
