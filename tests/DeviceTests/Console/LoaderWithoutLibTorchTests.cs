using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A loader-only run and <c>bench</c> never load TorchSharp or libtorch (~500 MB): a loader node needs neither. Read
/// from the running process's memory map while it builds batches (Linux's /proc).
/// </summary>
public sealed class LoaderWithoutLibTorchTests
{
    [SkippableTheory]
    [InlineData("loader")]
    [InlineData("bench")]
    public async Task RunningWithoutAModel_MapsNoTorch(string mode)
    {
        Skip.IfNot(Directory.Exists("/proc/self"), "reads /proc/PID/maps (Linux)");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string[] args = mode == "loader"
            ? ["--role", "loader", "--source", docs, "--vocab", vocab, "--epochs", "0", "--out", $"tcp://127.0.0.1:{FreePort()}", "--expect-consumers", "1", "--progress", "plain"]
            : ["bench", "--source", docs, "--vocab", vocab, "--epochs", "0", "--max-steps", "0", "--progress", "plain"];
        using CliProcess run = CliProcess.Start(files.Folder, args);

        await run.WaitForOutputAsync("docs ", Limit); // reading, tokenizing and batching
        string[] mapped = File.ReadAllLines($"/proc/{run.Id}/maps");
        run.Kill();

        Assert.Contains(mapped, l => l.Contains("StreamLoader.Batcher.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(mapped, l => l.Contains("TorchSharp", StringComparison.Ordinal) || l.Contains("libtorch", StringComparison.Ordinal));
    }
}
