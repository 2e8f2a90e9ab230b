using System.Security.Cryptography;
using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A loader's frames are a function of its settings: the same command gives the same bytes, resume positions
/// included, however far its provider happened to read ahead of the batches (parallel tokenizer workers, shuffling
/// on, one file so the position carries the file's document count once it is known).
/// </summary>
public sealed class DeterministicFramesTests
{
    [Theory]
    [MemberData(nameof(EveryTrainingTask), MemberType = typeof(CliFixtures))]
    public async Task Loader_SameCommandTwice_ByteIdenticalFrames(string task)
    {
        using var files = new TempFiles();
        string docs = LabelledJsonl(files, task, 600, i => 10 + (i % 11) * 6);
        string vocab = Vocab(files, "vocab.txt");
        string[] labelled = LabelArgs(task);
        string[] command = ["--role", "loader", "--task", task, "--source", docs, "--vocab", vocab, "--seq-len", "32", "--batch-size", "8", "--shuffle-buffer", "64", "--seed", "9",
            "--workers", "2", "--epochs", "2", "--progress", "none", .. labelled];

        var digests = new List<string>();
        foreach (string name in new[] { "first.frames", "second.frames" })
        {
            (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, [.. command, "--out", name]);
            Assert.True(exit == 0, stderr);
            digests.Add(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(files.Path(name)))));
        }

        Assert.True(new FileInfo(files.Path("first.frames")).Length > 0);
        Assert.Equal(digests[0], digests[1]);
    }
}
