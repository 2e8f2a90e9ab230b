using System.Security.Cryptography;
using System.Text.Json;
using StreamLoader.Tests.Infrastructure;
using Xunit.Abstractions;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The docs' Slurm scripts, submitted as written (only paths, ports and sizes changed: each change is asserted to
/// have matched) to a one-machine Slurm: docs/INFERENCE.md's job array with an element cancelled and requeued,
/// docs/DISTRIBUTED.md's training with one loader per task and with one shared loader, and a training resized from
/// four tasks to two.
/// </summary>
[Collection(ManyProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SlurmTests(SlurmCluster cluster, ITestOutputHelper output) : IClassFixture<SlurmCluster>
{
    /// <summary>
    /// The folder of the commands the jobs run: <c>streamloader</c> (this build) and, with <paramref name="python"/>,
    /// <c>python3</c> (the virtual environment the client package is pip-installed into).
    /// </summary>
    private static string[] Tools(TempFiles files, bool python = false)
    {
        Directory.CreateDirectory(files.Path("bin"));
        string wrapper = files.WriteText("bin/streamloader", $"#!/bin/sh\nexec dotnet '{CliProcess.Dll}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return python ? [files.Path("bin"), Path.GetDirectoryName(ClientPython)!] : [files.Path("bin")];
    }

    /// <summary><paramref name="text"/> with <paramref name="from"/> replaced, failing if the docs no longer say it.</summary>
    private static string Change(string text, string from, string to)
    {
        Assert.True(text.Contains(from, StringComparison.Ordinal), $"the docs' script no longer says '{from}':\n{text}");
        return text.Replace(from, to, StringComparison.Ordinal);
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [SkippableFact]
    public async Task InferenceArray_AnElementCancelledAndRequeued_MergedOutputIsTheSingleRankOutput()
    {
        cluster.Require();
        string classifier = await ClassifierAsync();
        string comments = SharedData.Require("labelled/goemotions/train.tsv");
        using var files = new TempFiles();
        string folder = files.Folder;

        // Four shards of GoEmotions comments (43,410 each, ids of their own), in the columns the classifier was
        // trained on; each element takes seconds and commits a chunk every 4,096 documents.
        string[] texts = [.. File.ReadLines(comments).Select(l => l.Split('\t')[0])];
        Directory.CreateDirectory(files.Path("shards"));
        for (int shard = 0; shard < 4; shard++)
        {
            string jsonl = string.Concat(texts.Select((t, i) => JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = $"{shard}-{i}", ["title"] = t, ["description"] = t }) + "\n"));
            using var compressor = new ZstdSharp.Compressor(3);
            File.WriteAllBytes(files.Path($"shards/part{shard}.jsonl.zst"), compressor.Wrap(System.Text.Encoding.UTF8.GetBytes(jsonl)).ToArray());
        }
        Directory.CreateDirectory(files.Path("models"));
        Directory.CreateSymbolicLink(files.Path("models/classify"), classifier);
        string[] path = Tools(files);

        const string Section = "### Slurm: a job array";
        string script = Change(Change(DocBlocks.After("INFERENCE.md", Section, "sh", 0), "--array=0-7", "--array=0-3"), "--cpus-per-task=8", "--cpus-per-task=1");
        files.WriteText("classify.sbatch", script);
        string[] submitted = (await cluster.BashAsync(folder, DocBlocks.After("INFERENCE.md", Section, "sh", 1) + "echo \"$jobid $merge\"\n", path)).Trim().Split(' ');
        var ids = new Dictionary<string, string> { ["jobid"] = submitted[0], ["merge"] = submitted[1] };
        output.WriteLine($"array job {ids["jobid"]}, merge job {ids["merge"]}");

        // Element 3 commits its first chunk; then it is cancelled mid-run and requeued, as the docs say.
        string journal = files.Path("out/preds.part-00003-of-00004.jsonl.work/journal.jsonl");
        await cluster.WaitAsync(folder, $"{ids["jobid"]}_3", _ => File.Exists(journal) && File.ReadAllText(journal).Contains('\n'), "element 3's first commit");
        Assert.Equal("RUNNING", (await cluster.StatesAsync(folder, $"{ids["jobid"]}_3")).Values.Single());
        string[] stopAndRelease = DocBlocks.After("INFERENCE.md", Section, "sh", 2).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await cluster.BashAsync(folder, stopAndRelease[0], path, ids);
        await cluster.CompletedAsync(folder, ids["jobid"]);
        string rerun = File.ReadAllText(files.Path($"slurm-{ids["jobid"]}_3.out"));
        Assert.Contains("continued after", rerun, StringComparison.Ordinal);
        output.WriteLine(rerun.Split('\n').First(l => l.Contains("continued after", StringComparison.Ordinal)).Trim());

        // As the docs warn, the cancelled element left the merge's afterok unmeetable; released, the merge runs.
        string reason = string.Empty;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); reason != "DependencyNeverSatisfied" && clock.Elapsed < TimeSpan.FromMinutes(1); await Task.Delay(500))
        {
            reason = (await cluster.BashAsync(folder, $"squeue -h -j {ids["merge"]} -o %r", path)).Trim();
        }
        Assert.Equal("DependencyNeverSatisfied", reason);
        await cluster.BashAsync(folder, stopAndRelease[1], path, ids);
        await cluster.CompletedAsync(folder, ids["merge"]);

        var (exit, _, stderr) = await CliProcess.RunAsync(folder, Limit, "infer", "--checkpoint", "models/classify", "--source", "shards/*.jsonl.zst", "--output", "single/preds.jsonl", "--progress", "none");
        Assert.True(exit == 0, stderr);
        string merged = Sha256(files.Path("out/preds.jsonl"));
        output.WriteLine($"merged {merged}, single rank {Sha256(files.Path("single/preds.jsonl"))}, {File.ReadLines(files.Path("out/preds.jsonl")).Count():N0} rows");
        Assert.Equal(Sha256(files.Path("single/preds.jsonl")), merged);
    }

    /// <summary>A corpus for the training scripts: two JSONL shards of the test words, and the vocabulary they name.</summary>
    private static void TrainingCorpus(TempFiles files)
    {
        Directory.CreateDirectory(files.Path("shards"));
        for (int shard = 0; shard < 2; shard++)
        {
            files.WriteText($"shards/part{shard}.jsonl", string.Concat(Enumerable.Range(shard * 150, 150).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(30, i)}\"}}\n")));
        }
        Vocab(files, "vocab.txt");
        Directory.CreateSymbolicLink(files.Path("examples"), Path.Combine(SharedData.RepositoryRoot, "examples"));
    }

    /// <summary>What a rank's trainer reported (train_mlm.py --report): the batch sequences it trained.</summary>
    private static long[] Trained(TempFiles files, int rank) =>
        [.. Summary(files.Path($"train-{rank}.json")).GetProperty("sequences").EnumerateArray().Select(s => s.GetInt64())];

    /// <summary>
    /// Submits a training script of the docs (its MASTER_PORT made free) as two tasks on this one node (it asks for
    /// several nodes: given again, the options override it), waits for it to complete, and returns what each rank's
    /// trainer reported it trained; the ranks stepped together.
    /// </summary>
    private async Task<long[][]> TrainTwoTasksAsync(TempFiles files, string script)
    {
        files.WriteText("train.sbatch", Change(script, "MASTER_PORT=29500", $"MASTER_PORT={FreePort()}"));
        string job = (await cluster.BashAsync(files.Folder, "sbatch --parsable --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 train.sbatch", Tools(files, python: true))).Trim();
        await cluster.CompletedAsync(files.Folder, job);
        long[][] trained = [Trained(files, 0), Trained(files, 1)];
        Assert.Equal(trained[0].Length, trained[1].Length);
        return trained;
    }

    [SkippableFact]
    public async Task Training_OneLoaderPerTask_EveryBatchTrainedOnce_AsTheLoadersReport()
    {
        cluster.Require();
        RequirePython("zmq", "numpy", "torch", "streamloader_client");
        using var files = new TempFiles();
        TrainingCorpus(files);
        string script = Change(DocBlocks.After("DISTRIBUTED.md", "### Slurm", "sh", 0), "5555 + SLURM_LOCALID", $"{FreePort()} + SLURM_LOCALID");
        long[][] trained = await TrainTwoTasksAsync(files, script);
        for (int rank = 0; rank < 2; rank++)
        {
            JsonElement loader = Summary(files.Path($"loader-{rank}.json"));
            JsonElement transport = loader.GetProperty("transport");
            Assert.Equal(rank, loader.GetProperty("provider").GetProperty("rank").GetInt32());
            Assert.Equal(2, loader.GetProperty("provider").GetProperty("world_size").GetInt32());
            // Every batch this rank's loader sent was trained once by this rank, or returned untrained at the end.
            Assert.Equal(trained[rank].Length, trained[rank].Distinct().Count());
            Assert.Equal(trained[rank].Length, transport.GetProperty("acknowledged").GetInt64());
            Assert.Equal(transport.GetProperty("sent").GetInt64(), transport.GetProperty("acknowledged").GetInt64() + transport.GetProperty("returned").GetInt64());
            Assert.Equal(0, transport.GetProperty("undeliverable").GetInt64());
            output.WriteLine($"rank {rank}: {trained[rank].Length} batches trained, {transport.GetProperty("returned").GetInt64()} returned of {transport.GetProperty("sent").GetInt64()} sent");
        }
    }

    [SkippableFact]
    public async Task Training_OneSharedLoader_EachBatchToOneRank_AsTheLoaderReports()
    {
        cluster.Require();
        RequirePython("zmq", "numpy", "torch", "streamloader_client");
        using var files = new TempFiles();
        TrainingCorpus(files);
        int port = FreePort();
        string script = Change(Change(DocBlocks.After("DISTRIBUTED.md", "### Slurm", "sh", 1), "tcp://*:5555", $"tcp://127.0.0.1:{port}"), "$MASTER_ADDR:5555", $"$MASTER_ADDR:{port}");
        long[][] trained = await TrainTwoTasksAsync(files, script);
        Assert.Empty(trained[0].Intersect(trained[1]));
        JsonElement loader = Summary(files.Path("loader.json"));
        JsonElement transport = loader.GetProperty("transport");
        // The loader read the whole source, not the batch script's SLURM_PROCID share.
        Assert.Equal(1, loader.GetProperty("provider").GetProperty("world_size").GetInt32());
        Assert.Equal(300, loader.GetProperty("provider").GetProperty("documents_emitted").GetInt64());
        Assert.Equal(2, transport.GetProperty("consumers").GetInt32());
        Assert.Equal(trained[0].Length + trained[1].Length, transport.GetProperty("acknowledged").GetInt64());
        Assert.Equal(transport.GetProperty("sent").GetInt64(), transport.GetProperty("acknowledged").GetInt64() + transport.GetProperty("returned").GetInt64());
        output.WriteLine($"{trained[0].Length} + {trained[1].Length} batches trained, {transport.GetProperty("returned").GetInt64()} returned of {transport.GetProperty("sent").GetInt64()} sent");
    }

    [SkippableFact]
    public async Task Training_FourTasksPreempted_ComeBackAsTwo_ResumeTheGlobalStreamRedealt()
    {
        cluster.Require();
        using var files = new TempFiles();
        TrainingCorpus(files);
        string[] lines = [.. DocBlocks.After("DISTRIBUTED.md", "## Changing the number of ranks", "sh", 0).Split('\n').Where(l => l.StartsWith("srun ", StringComparison.Ordinal))];
        Assert.Equal(2, lines.Length);
        string[] path = Tools(files);
        const string Small = "streamloader --model micro --seq-len 32 --batch-size 4 --progress none --log-every 1 ";

        // The first run: four tasks, training (over and over: --epochs 0) until Slurm stops the job. Each task's lines
        // carry its rank (srun --label).
        string first = Change(Change(Change(lines[0], "--max-steps 1000", "--max-steps 1000000 --epochs 0"), "streamloader ", Small), "srun ", "srun --label ");
        files.WriteText("first.sh", "#!/bin/bash\n" + first + "\n");
        string job = (await cluster.BashAsync(files.Folder, "sbatch --parsable --nodes=1 --ntasks=4 -o first.out first.sh", path)).Trim();
        await cluster.WaitAsync(files.Folder, job, _ => File.Exists(files.Path("first.out")) && Enumerable.Range(0, 4).All(r => File.ReadAllText(files.Path("first.out")).Contains($"{r}: step ", StringComparison.Ordinal)), "every task's first step");
        // Preempted: SIGTERM to every task, SIGKILL KillWait (5 s here) later. Each saves its checkpoint and exits 143.
        await cluster.BashAsync(files.Folder, $"scancel {job}", path);
        await cluster.WaitAsync(files.Folder, job, s => s.Values.All(v => v is "CANCELLED" or "COMPLETED" or "FAILED"), "the job's end");
        string log = File.ReadAllText(files.Path("first.out"));
        long[] steps = new long[4];
        for (int rank = 0; rank < 4; rank++)
        {
            Assert.True(File.Exists(files.Path($"runs/mlm/latest-rank{rank}")), $"rank {rank} of 4 saved no checkpoint on SIGTERM:\n{log}");
            steps[rank] = Summary(files.Path($"runs/mlm/{File.ReadAllText(files.Path($"runs/mlm/latest-rank{rank}")).Trim()}/checkpoint.json")).GetProperty("steps").GetInt64();
        }
        output.WriteLine($"preempted at steps {string.Join(", ", steps)}");

        // The job comes back with two tasks and resumes: the stream is re-dealt among them.
        string second = Change(Change(lines[1], "--max-steps 2000", $"--max-steps {steps.Max() + 5}"), "streamloader ", Small);
        await cluster.BashAsync(files.Folder, second + " 2> second.log", path);
        log = File.ReadAllText(files.Path("second.log"));
        string[] redealt = [.. log.Split('\n').Where(l => l.StartsWith("resumed 4 ranks as 2: global position ", StringComparison.Ordinal))];
        Assert.True(redealt.Length == 2, $"each of the two ranks says how it was re-dealt:\n{log}");
        Assert.Single(redealt.Select(l => l[..l.IndexOf("; rank ", StringComparison.Ordinal)]).Distinct());
        output.WriteLine(redealt[0]);
        for (int rank = 0; rank < 2; rank++)
        {
            JsonElement manifest = Summary(files.Path($"runs/mlm/{File.ReadAllText(files.Path($"runs/mlm/latest-rank{rank}")).Trim()}/checkpoint.json"));
            Assert.Equal(steps.Max() + 5, manifest.GetProperty("steps").GetInt64());
            Assert.Equal(4, manifest.GetProperty("redealt_from").GetArrayLength());
        }
    }
}
