using System.Security.Cryptography;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// Run files as a user writes them: <c>--config run.toml</c> instead of flags, flags over files, files merged in order,
/// one-line errors, <c>config show</c> round trips, the run file every checkpoint carries, and the example run files in
/// <c>examples/configs/</c>.
/// </summary>
public sealed class ConfigTests
{
    /// <summary>Each batch's tensors (names, shapes, SHA-256) and metadata but the stream position, in order.</summary>
    private static async Task<List<string>> BatchesAsync(string frames)
    {
        var batches = new List<string>();
        await using StreamBatchReader reader = FrameFileTransportKind.Open(frames);
        await foreach (TensorBatch batch in reader.ReadAllAsync())
        {
            using (batch)
            {
                // resume_position records how far the provider had read when the batch left, which depends on timing
                // (a separate, known issue); every other byte must be the same.
                string meta = string.Join(";", batch.Metadata.Where(p => p.Key != "resume_position").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
                batches.Add($"{batch.Sequence}|{meta}|" + string.Join(",", batch.Tensors.Select(t => $"{t.Name}[{string.Join('x', t.Shape)}]={Convert.ToHexStringLower(SHA256.HashData(t.Bytes))}")));
            }
        }
        return batches;
    }

    [Fact]
    public async Task RunFile_GivesTheBatchesOfTheSameFlags_AndAFlagOverridesIt()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 60);
        Vocab(files, "vocab.txt");
        Directory.CreateDirectory(files.Path("conf"));
        // Relative paths are the file's: the run starts elsewhere (a folder beside it).
        File.WriteAllText(files.Path("conf/run.toml"),
            "[source]\nsource = [\"../docs.jsonl\"]\nshuffle_buffer = 7\n\n[tokenizer]\nvocab = \"../vocab.txt\"\n\n" +
            "[task]\ntask = \"mlm\"\nseq_len = 32\nbatch_size = 4\nseed = 3\nmask_prob = 0.25\n\n[output]\nprogress = \"none\"\n");
        Directory.CreateDirectory(files.Path("work"));
        string work = files.Path("work");

        (int flagsExit, _, string flagsErr) = await CliProcess.RunAsync(work, Limit, "--role", "loader", "--out", "flags.frames", "--source", docs, "--shuffle-buffer", "7",
            "--vocab", files.Path("vocab.txt"), "--task", "mlm", "--seq-len", "32", "--batch-size", "4", "--seed", "3", "--mask-prob", "0.25", "--progress", "none");
        (int fileExit, _, string fileErr) = await CliProcess.RunAsync(work, Limit, "--role", "loader", "--out", "file.frames", "--config", "../conf/run.toml");
        (int overExit, _, string overErr) = await CliProcess.RunAsync(work, Limit, "--role", "loader", "--out", "over.frames", "--config", "../conf/run.toml", "--seq-len", "16");

        Assert.True(flagsExit == 0, flagsErr);
        Assert.True(fileExit == 0, fileErr);
        Assert.True(overExit == 0, overErr);
        List<string> fromFlags = await BatchesAsync(Path.Combine(work, "flags.frames"));
        Assert.True(fromFlags.Count > 10);
        Assert.Equal(fromFlags, await BatchesAsync(Path.Combine(work, "file.frames")));
        List<string> overridden = await BatchesAsync(Path.Combine(work, "over.frames"));
        Assert.All(overridden, b => Assert.Contains("input_ids[4x16]", b, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SeveralFiles_MergeInOrder_LaterOverEarlier_FlagsOverAll()
    {
        using var files = new TempFiles();
        File.WriteAllText(files.Path("base.toml"), "[task]\nseq_len = 64\nbatch_size = 8\n\n[trainer]\nlr = 0.01\n");
        File.WriteAllText(files.Path("small.toml"), "[task]\nseq_len = 32\n");

        (int exit, string shown, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "config", "show", "--config", "base.toml", "--config", "small.toml", "--batch-size", "2");

        Assert.True(exit == 0, stderr);
        Assert.Contains("seq_len = 32  # from small.toml", shown, StringComparison.Ordinal);
        Assert.Contains("batch_size = 2  # --batch-size", shown, StringComparison.Ordinal);
        Assert.Contains("lr = 0.01  # from base.toml", shown, StringComparison.Ordinal);
        Assert.Contains("# seed = 0  # default", shown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[task]\nseq_lenght = 32\n", "unknown key [task] seq_lenght for 'streamloader bench'; did you mean seq_len (in [task])?")]
    [InlineData("[task]\nseq_len = \"long\"\n", "[task] seq_len = \"long\": expected an integer (like --seq-len)")]
    [InlineData("[model]\nseq_len = 32\n", "seq_len belongs in [task], not [model]")]
    [InlineData("[trainr]\nlr = 0.1\n", "unknown section [trainr]; did you mean [trainer]?")]
    [InlineData("[task\nseq_len = 32\n", "run.toml:1:6: not valid TOML")]
    [InlineData("[output]\nprogress = true\n", "[output] progress = true: expected a string")]
    public async Task BadRunFile_OneLineNamingTheFileAndKey_Exit2(string content, string message)
    {
        using var files = new TempFiles();
        File.WriteAllText(files.Path("run.toml"), content);

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "bench", "--config", "run.toml");

        Assert.True(exit == 2, $"exit {exit}\n{stderr}");
        string error = stderr.Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("--config run.toml", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.True(stderr.Trim().Split('\n').Length <= 2, stderr);
    }

    [Fact]
    public async Task ATrainingFile_GivenToBench_UsesWhatBenchTakes()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);
        string vocab = Vocab(files, "vocab.txt");
        File.WriteAllText(files.Path("run.toml"), $"[source]\nsource = [\"{docs}\"]\n[tokenizer]\nvocab = \"{vocab}\"\n[task]\nseq_len = 16\n[trainer]\nlr = 0.1\nwarmup = 3\n[model]\nmodel = \"micro\"\n");

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "bench", "--config", "run.toml", "--ceiling", "false", "--progress", "none", "--summary-json", "s.json");

        Assert.True(exit == 0, stderr);
        Assert.Equal(20, Summary(files.Path("s.json")).GetProperty("documents").GetInt64());
    }

    [Fact]
    public async Task ConfigShow_FedBack_GivesTheSameConfiguration()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 10);
        File.WriteAllText(files.Path("a.toml"), $"[source]\nsource = [\"{docs}\"]\nepochs = 2\n[task]\ntask = \"clm\"\nseq_len = 48\n");

        (int exit, string first, string err) = await CliProcess.RunAsync(files.Folder, Limit, "config", "show", "--config", "a.toml", "--lr", "0.003", "--pack", "true");
        Assert.True(exit == 0, err);
        File.WriteAllText(files.Path("shown.toml"), first);
        (int again, string second, string err2) = await CliProcess.RunAsync(files.Folder, Limit, "config", "show", "--config", "shown.toml");
        Assert.True(again == 0, err2);

        // The same settings, each now from the file; the defaults stay defaults.
        static string[] Settings(string shown) => shown.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split("  #")[0]).ToArray();
        Assert.Equal(Settings(first), Settings(second));
        Assert.Contains("lr = 0.003", Settings(second));
        Assert.Contains("pack = \"true\"", Settings(second));
        Assert.Contains("task = \"clm\"", Settings(second));
        // A task's own settings show the task's defaults (clm packs rows unless told not to).
        Assert.Contains("# pack = \"true\"  # default", (await CliProcess.RunAsync(files.Folder, Limit, "config", "show", "--task", "clm")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkpoint_CarriesItsRunFile_WhichStartsTheSameRun_AndResumeReadsIt()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 40);
        string vocab = Vocab(files, "vocab.txt");
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--source", docs, "--vocab", vocab, "--seq-len", "16", "--batch-size", "4",
            "--model", "micro", "--max-steps", "3", "--seed", "5", "--checkpoint", "ck", "--progress", "none");
        Assert.True(exit == 0, stderr);

        string run = files.Path("ck/run.toml");
        Assert.True(File.Exists(run), "the checkpoint has no run.toml");
        string text = File.ReadAllText(run);
        Assert.Contains("seq_len = 16", text, StringComparison.Ordinal);
        Assert.Contains("seed = 5", text, StringComparison.Ordinal);
        (int shown, string config, string showErr) = await CliProcess.RunAsync(files.Folder, Limit, "config", "show", "--config", run);
        Assert.True(shown == 0, showErr);
        Assert.Contains("batch_size = 4  # from", config, StringComparison.Ordinal);

        // The run file is part of the checkpoint: resume reads it, and an edit is damage, not a setting.
        (int resumed, _, string resumeErr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--resume", "ck", "--max-steps", "5", "--checkpoint", "ck2", "--progress", "none");
        Assert.True(resumed == 0, resumeErr);
        File.WriteAllText(run, text.Replace("seq_len = 16", "seq_len = 8", StringComparison.Ordinal));
        (int damaged, _, string damagedErr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--resume", "ck", "--max-steps", "6", "--checkpoint", "none", "--progress", "none");
        Assert.Equal(3, damaged);
        Assert.Contains("run.toml", damagedErr, StringComparison.Ordinal);
    }

    public static TheoryData<string> ExampleRunFiles() =>
        [.. Directory.GetFiles(Path.Combine(SharedData.RepositoryRoot, "examples", "configs"), "*.toml").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    [SkippableTheory]
    [MemberData(nameof(ExampleRunFiles))]
    public async Task ExampleRunFile_Trains(string name)
    {
        SharedData.Require("tokenizers/bert-base-uncased-vocab.txt");
        using var files = new TempFiles();
        string config = Path.Combine(SharedData.RepositoryRoot, "examples", "configs", name);

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "--all", "--config", config, "--max-steps", "2", "--checkpoint", "none", "--progress", "none", "--summary-json", "s.json");

        Assert.True(exit == 0, $"{name}: exit {exit}\n{stderr}");
        Assert.Equal(2, Summary(files.Path("s.json")).GetProperty("steps").GetInt64());
    }
}
