using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A training run of W ranks (<c>--sharding global</c>) checkpointed by its devices, then continued by loaders of W′
/// ranks from those checkpoints (<c>--resume runs/clm</c> with another <c>--world-size</c>): every word of every document
/// is trained exactly once over the two runs, as in one uninterrupted single-process run. Each word of the corpus is
/// its own token, so the tokens in the frames say which document and which word they are.
/// </summary>
[Collection(ManyProcessesCollection.Name)]
public sealed class ElasticResumeConsoleTests
{
    private const int Documents = 120;

    /// <summary>Documents of 3–22 words, word k of document i written u{i}x{k}: one vocabulary entry each.</summary>
    private static IEnumerable<string> Words(int document) => Enumerable.Range(0, 3 + (document * 7 % 20)).Select(k => $"u{document}x{k}");

    private static string[] Corpus(TempFiles files, bool manyFiles)
    {
        string Line(int i) => $"{{\"id\":{i},\"text\":\"{string.Join(' ', Words(i))}\"}}\n";
        files.WriteText("vocab.txt", string.Join('\n', ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. Enumerable.Range(0, Documents).SelectMany(Words)]) + "\n");
        if (!manyFiles)
        {
            return [files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, Documents).Select(Line)))];
        }
        Directory.CreateDirectory(files.Path("shards"));
        for (int f = 0; f < 4; f++)
        {
            files.WriteText($"shards/part{f}.jsonl", string.Concat(Enumerable.Range(f * Documents / 4, Documents / 4).Select(Line)));
        }
        return [files.Path("shards")];
    }

    /// <summary>The word ids (5 and up: not [PAD], [UNK], [CLS], [SEP] or [MASK]) of the first <paramref name="take"/> batches of a frames file.</summary>
    private static async Task<List<long>> WordIdsAsync(string frames, int take = int.MaxValue)
    {
        var ids = new List<long>();
        await using StreamBatchReader reader = FrameFileTransportKind.Open(frames);
        int batches = 0;
        await foreach (TensorBatch batch in reader.ReadAllAsync())
        {
            using (batch)
            {
                if (batches++ >= take)
                {
                    continue;
                }
                Assert.True(batch.TryGet("input_ids", out TensorBuffer inputs));
                foreach (long id in inputs.AsSpan<long>())
                {
                    if (id >= 5)
                    {
                        ids.Add(id);
                    }
                }
            }
        }
        return ids;
    }

    [Trait("Category", "EndToEnd")]
    [Theory]
    [InlineData(true, 4, 2)]
    [InlineData(false, 2, 3)]
    public async Task DevicesCheckpointedAtOneWorldSize_LoadersOfAnother_EveryWordTrainedOnce(bool manyFiles, int before, int after)
    {
        using var files = new TempFiles();
        string[] source = Corpus(files, manyFiles);
        string[] common = ["--task", "clm", .. source.SelectMany(s => new[] { "--source", s }), "--vocab", files.Path("vocab.txt"), "--seq-len", "16", "--batch-size", "2",
            "--shuffle-buffer", "16", "--seed", "5", "--sharding", "global", "--progress", "none"];
        const int Steps = 6;

        // One uninterrupted process: what training the whole stream means.
        var (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["--role", "loader", .. common, "--out", "whole.bin"]);
        Assert.True(exit == 0, stderr);
        List<long> whole = await WordIdsAsync(files.Path("whole.bin"));
        Assert.Equal(Enumerable.Range(0, Documents).Sum(i => Words(i).Count()), whole.Count);
        Assert.Equal(whole.Count, whole.Distinct().Count());

        // The first run: each rank's loader writes its frames, its device trains the first steps and checkpoints
        // (runs/clm/<time>-rank<r>, latest-rank<r>).
        var trained = new List<long>();
        for (int r = 0; r < before; r++)
        {
            string rank = r.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string[] ranks = ["--rank", rank, "--world-size", before.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["--role", "loader", .. common, .. ranks, "--out", $"first{r}.bin"]);
            Assert.True(exit == 0, stderr);
            (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["--role", "device", "--task", "clm", "--in", $"first{r}.bin", .. ranks, "--model", "micro", "--max-steps", $"{Steps}", "--progress", "none"]);
            Assert.True(exit == 0, stderr);
            trained.AddRange(await WordIdsAsync(files.Path($"first{r}.bin"), Steps));
        }

        // The second run, of another size, from the devices' checkpoints.
        for (int r = 0; r < after; r++)
        {
            string rank = r.ToString(System.Globalization.CultureInfo.InvariantCulture);
            (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit,
                ["--role", "loader", .. common, "--rank", rank, "--world-size", after.ToString(System.Globalization.CultureInfo.InvariantCulture), "--resume", "runs/clm", "--out", $"second{r}.bin", "--summary-json", $"second{r}.json"]);
            Assert.True(exit == 0, stderr);
            Assert.Contains($"resumed {before} ranks as {after}: global position ", stderr);
            Assert.StartsWith($"resumed {before} ranks as {after}: global position ", Summary(files.Path($"second{r}.json")).GetProperty("provider").GetProperty("redealt").GetString());
            trained.AddRange(await WordIdsAsync(files.Path($"second{r}.bin")));
        }

        var twice = trained.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"{twice.Count} words trained twice (ids {string.Join(", ", twice.Take(10))})");
        Assert.Equal(whole.Order(), trained.Order());
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task AllServices_ResizedTwice_RanksStartingOneAfterAnother_EachJoinsTheSameRedeal()
    {
        using var files = new TempFiles();
        string[] source = Corpus(files, manyFiles: false);
        string[] common = ["--task", "clm", "--source", source[0], "--vocab", files.Path("vocab.txt"), "--seq-len", "16", "--batch-size", "2", "--shuffle-buffer", "16",
            "--model", "micro", "--progress", "none"];

        async Task<string> RunAsync(int rank, int world, long steps, params string[] more)
        {
            var (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit,
                [.. common, "--rank", $"{rank}", "--world-size", $"{world}", "--max-steps", $"{steps}", .. more]);
            Assert.True(exit == 0, stderr);
            return stderr;
        }

        for (int r = 0; r < 2; r++)
        {
            await RunAsync(r, 2, 3, "--sharding", "global");
        }
        // Three ranks, one after another: the first has saved (latest-rank0 is the new run's) before the second
        // starts, and the third has no checkpoint of its own at all; each still re-deals what the two left.
        var lines = new List<string>();
        for (int r = 0; r < 3; r++)
        {
            string stderr = await RunAsync(r, 3, 6, "--resume", "runs/clm");
            lines.Add(stderr.Split('\n').Single(l => l.StartsWith("resumed 2 ranks as 3: ", StringComparison.Ordinal)));
        }
        // The same deal for all three (the line differs only in the rank that takes its share).
        Assert.Single(lines.Select(l => l[..l.IndexOf("; rank ", StringComparison.Ordinal)]).Distinct());
        for (int r = 0; r < 2; r++)
        {
            Assert.Contains("resumed 3 ranks as 2: global position ", await RunAsync(r, 2, 9, "--resume", "runs/clm"));
        }
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task ExplicitCheckpointFolder_SeveralRanks_EachSavesItsOwn_AndResumesItsOwn()
    {
        using var files = new TempFiles();
        string[] source = Corpus(files, manyFiles: false);
        string[] common = ["--task", "clm", "--source", source[0], "--vocab", files.Path("vocab.txt"), "--seq-len", "16", "--batch-size", "2", "--model", "micro", "--progress", "none"];
        // Before, both ranks wrote ck itself, the second over the first.
        for (int r = 0; r < 2; r++)
        {
            var (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--rank", $"{r}", "--world-size", "2", "--max-steps", $"{2 + r}", "--checkpoint", "ck"]);
            Assert.True(exit == 0, stderr);
        }
        string[] folders = [.. Enumerable.Range(0, 2).Select(r => File.ReadAllText(files.Path($"ck/latest-rank{r}")).Trim())];
        Assert.NotEqual(folders[0], folders[1]);
        for (int r = 0; r < 2; r++)
        {
            Assert.EndsWith($"-rank{r}", folders[r], StringComparison.Ordinal);
            Assert.Equal(2 + r, Summary(files.Path($"ck/{folders[r]}/checkpoint.json")).GetProperty("steps").GetInt64());
            var (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--rank", $"{r}", "--world-size", "2", "--max-steps", "6", "--resume", "ck"]);
            Assert.True(exit == 0, stderr);
            Assert.Contains($"resumed from {files.Path($"ck/{folders[r]}")}: step {2 + r}", stderr, StringComparison.Ordinal);
        }
    }
}
