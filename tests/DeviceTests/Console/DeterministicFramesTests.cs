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

    [Theory]
    [InlineData("mlm", "0")]
    [InlineData("classify", "11")]
    public async Task Loader_ParallelDecodeAndPartsReadAhead_ByteIdenticalToTheSerialDecode(string task, string seed)
    {
        using var files = new TempFiles();
        // Three files, one gzip, of many decode chunks each, with bad lines of every kind among the records.
        string folder = files.Path("shards");
        Directory.CreateDirectory(folder);
        for (int f = 0; f < 3; f++)
        {
            var lines = new System.Text.StringBuilder();
            for (int i = 0; i < 700; i++)
            {
                int id = (f * 1000) + i;
                lines.Append((i % 53) switch
                {
                    7 => "{\"id\": broken\n",
                    19 => $"{{\"id\":{id},\"body\":\"no text\"}}\n",
                    31 => $"{{\"id\":{id},\"text\":\"  \"}}\n",
                    _ => $"{{\"id\":{id},\"text\":\"{TestTokenizer.Words(5 + (i % 13) * 4, id)}\",\"label\":\"{(i % 3 == 0 ? "a" : "b")}\"}}\n",
                });
            }
            if (f == 1)
            {
                File.WriteAllBytes(Path.Combine(folder, $"part-{f}.jsonl.gz"), TempFiles.Gzip(lines.ToString()));
            }
            else
            {
                File.WriteAllText(Path.Combine(folder, $"part-{f}.jsonl"), lines.ToString());
            }
        }
        string vocab = Vocab(files, "vocab.txt");
        string[] command = ["--role", "loader", "--task", task, "--source", folder, "--vocab", vocab, "--seq-len", "32", "--batch-size", "8", "--shuffle-buffer", "64", "--seed", seed,
            "--workers", "2", "--epochs", "2", "--progress", "none", .. LabelArgs(task)];

        var digests = new List<string>();
        foreach ((string name, string threads, string parts) in new[] { ("serial.frames", "1", "1"), ("parallel.frames", "4", "3") })
        {
            (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, [.. command, "--decode-threads", threads, "--parts-at-once", parts, "--out", name]);
            Assert.True(exit == 0, stderr);
            digests.Add(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(files.Path(name)))));
        }

        Assert.True(new FileInfo(files.Path("serial.frames")).Length > 0);
        Assert.Equal(digests[0], digests[1]);
    }
}
