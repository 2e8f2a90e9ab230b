using System.Runtime.CompilerServices;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Randomness;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

public sealed class DocumentStreamTests
{
    /// <summary>An in-memory source of n documents with ids "0".."n-1", counting those it has yielded.</summary>
    private sealed class CountingSource : IDocumentSource
    {
        private readonly int _count;
        private int _yielded;

        public CountingSource(int count)
        {
            _count = count;
        }

        public int Yielded => Volatile.Read(ref _yielded);

        public string Description => "memory";

        public string Fingerprint => $"memory|{_count}";

        public SourceStatistics Statistics { get; } = new();

        public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (int i = 0; i < _count; i++)
            {
                await Task.Yield();
                Interlocked.Increment(ref _yielded);
                yield return new Document(i.ToString(), $"text {i}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public async Task ReadAsync_Ranks_PartitionTheSourceExactly(int worldSize)
    {
        var all = new List<string>();
        for (int rank = 0; rank < worldSize; rank++)
        {
            var stream = new DocumentStream(new CountingSource(100), new DocumentStreamOptions { Rank = new RankInfo(rank, worldSize), ShuffleBuffer = 16, Seed = 3 });
            List<string> ids = await Collect.IdsAsync(stream);
            Assert.All(ids, id => Assert.Equal(rank, int.Parse(id) % worldSize));
            all.AddRange(ids);
        }
        Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString()).Order(), all.Order());
    }

    [Fact]
    public async Task ReadAsync_Shuffle_IsASeededPermutation()
    {
        List<string> a = await Collect.IdsAsync(new DocumentStream(new CountingSource(500), new DocumentStreamOptions { Seed = 1, ShuffleBuffer = 64 }));
        List<string> b = await Collect.IdsAsync(new DocumentStream(new CountingSource(500), new DocumentStreamOptions { Seed = 1, ShuffleBuffer = 64 }));
        List<string> c = await Collect.IdsAsync(new DocumentStream(new CountingSource(500), new DocumentStreamOptions { Seed = 2, ShuffleBuffer = 64 }));
        List<string> unshuffled = await Collect.IdsAsync(new DocumentStream(new CountingSource(500), new DocumentStreamOptions { Seed = 1, ShuffleBuffer = 0 }));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(unshuffled.Order(), a.Order());
        Assert.Equal(Enumerable.Range(0, 500).Select(i => i.ToString()), unshuffled);
        Assert.NotEqual(unshuffled, a);
    }

    [Fact]
    public async Task ReadAsync_Epochs_ReshuffleEachPassAndStampOrdinals()
    {
        var stream = new DocumentStream(new CountingSource(50), new DocumentStreamOptions { Seed = 5, ShuffleBuffer = 50, Epochs = 2 });
        var docs = await Collect.AllAsync(stream.ReadAsync());

        Assert.Equal(100, docs.Count);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), docs.Select(d => d.Ordinal));
        Assert.Equal(docs.Take(50).Select(d => d.Id).Order(), docs.Skip(50).Select(d => d.Id).Order());
        Assert.NotEqual(docs.Take(50).Select(d => d.Id), docs.Skip(50).Select(d => d.Id));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(37)]
    [InlineData(99)]
    [InlineData(130)]
    public async Task ReadAsync_ResumeFromSavedPosition_ContinuesExactly(int consumed)
    {
        using var files = new TempFiles();
        var options = new DocumentStreamOptions { Seed = 9, ShuffleBuffer = 32, Epochs = 2, Rank = new RankInfo(1, 2) };
        List<string> uninterrupted = await Collect.IdsAsync(new DocumentStream(new CountingSource(200), options));

        var first = new DocumentStream(new CountingSource(200), options);
        List<string> head = await Collect.IdsAsync(first, take: consumed);
        string file = files.Path("position.json");
        (consumed == 0 ? first.Positions.PositionAt(0) : first.Positions.PositionAt(consumed)).Save(file);

        var second = new DocumentStream(new CountingSource(200), options);
        List<string> tail = await Collect.IdsAsync(second, ProviderPosition.Load(file));

        Assert.Equal(uninterrupted, head.Concat(tail));
        // Resuming replays only the interrupted epoch (100 documents per epoch on this rank).
        Assert.Equal(consumed % 100, second.ResumeSkipped);
    }

    [Theory]
    [InlineData(1024, null, 16)]
    [InlineData(1024, 64, 64)]
    [InlineData(1024, 1024, 500)]
    [InlineData(100, null, 16)]
    [InlineData(8, null, 8)]
    public async Task ReadAsync_ShuffleBuffer_StartsPickingOnceItHoldsItsStart(int buffer, int? start, int readBeforeFirst)
    {
        var source = new CountingSource(500);
        var stream = new DocumentStream(source, new DocumentStreamOptions { Seed = 4, ShuffleBuffer = buffer, ShuffleStart = start });
        int readAtFirst = -1;
        var ids = new List<string>();
        await foreach (Document document in stream.ReadAsync())
        {
            if (readAtFirst < 0)
            {
                readAtFirst = source.Yielded;
            }
            ids.Add(document.Id);
        }

        // The first document leaves once the buffer holds its start (plus the one whose arrival triggers the pick).
        Assert.Equal(Math.Min(500, readBeforeFirst + 1), readAtFirst);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => i.ToString()), ids.OrderBy(int.Parse));
        Assert.NotEqual(Enumerable.Range(0, 500).Select(i => i.ToString()), ids);
    }

    /// <summary>A source that yields the same document instances every time it is read, as a cached in-memory one might.</summary>
    private sealed class CachedSource : IDocumentSource
    {
        private readonly Document[] _documents = Enumerable.Range(0, 40).Select(i => new Document(i.ToString(), $"text {i}")).ToArray();

        public string Description => "cached";

        public string Fingerprint => "cached|40";

        public SourceStatistics Statistics { get; } = new();

        public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (Document document in _documents)
            {
                await Task.Yield();
                yield return document;
            }
        }
    }

    [Fact]
    public async Task ReadAsync_ASourceYieldingTheSameInstancesEachEpoch_KeepsEachEmittedDocumentsStamp()
    {
        var stream = new DocumentStream(new CachedSource(), new DocumentStreamOptions { Seed = 2, ShuffleBuffer = 8, Epochs = 3 });
        var emitted = new List<Document>();
        await foreach (Document document in stream.ReadAsync())
        {
            emitted.Add(document);
        }

        // Stamped in place the first time, copied after: a document handed on keeps the ordinal it was handed on with.
        Assert.Equal(Enumerable.Range(0, 120).Select(i => (long)i), emitted.Select(d => d.Ordinal));
        Assert.All(emitted, d => Assert.Equal(long.Parse(d.Id), d.SourceOrdinal));
        Assert.Equal(120, emitted.Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void Stamp_SetsAFreshDocumentInPlace_AndCopiesOneAlreadyStamped()
    {
        var fresh = new Document("a", "text");
        Document first = fresh.StampSource(2, 5).Stamp(7);
        Assert.Same(fresh, first);
        Assert.Equal((2, 5L, 7L), (first.SourcePart, first.SourceOrdinal, first.Ordinal));

        Document again = first.StampSource(3, 1).Stamp(9);
        Assert.NotSame(first, again);
        Assert.Equal((2, 5L, 7L), (first.SourcePart, first.SourceOrdinal, first.Ordinal));
        Assert.Equal((3, 1L, 9L), (again.SourcePart, again.SourceOrdinal, again.Ordinal));
    }

    [Fact]
    public void ShuffleRule_WhileFilling_PicksUniformlyFromWhatItHolds_AndIsFullAfterTwiceItsSizeLessItsStart()
    {
        var rule = new ShuffleRule(64, 16);
        var random = new Xoshiro256(1);
        int count = 0;
        long input = 0;
        for (; count < 64; input++)
        {
            int pick = rule.Next(ref random, input, count);
            Assert.InRange(pick, -1, Math.Max(0, count - 1));
            if (pick < 0)
            {
                count++;
            }
        }
        Assert.Equal((2 * 64) - 16, input);
        Assert.InRange(rule.Next(ref random, input, count), 0, 63);
    }

    [Fact]
    public async Task ReadAsync_ResumeWithDifferentSeed_IsRefused()
    {
        var stream = new DocumentStream(new CountingSource(10), new DocumentStreamOptions { Seed = 1 });
        await Collect.IdsAsync(stream, take: 3);
        ProviderPosition position = stream.Position;

        var other = new DocumentStream(new CountingSource(10), new DocumentStreamOptions { Seed = 2 });
        SettingsConflictException error = await Assert.ThrowsAsync<SettingsConflictException>(() => Collect.IdsAsync(other, position));
        Assert.Contains("seed 1 vs 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RankInfo_FromLauncherVariables()
    {
        Assert.Equal((2, 8, "torchrun"), Read(new() { ["RANK"] = "2", ["WORLD_SIZE"] = "8" }));
        Assert.Equal((3, 4, "slurm"), Read(new() { ["SLURM_PROCID"] = "3", ["SLURM_NTASKS"] = "4" }));
        Assert.Equal((1, 2, "openmpi"), Read(new() { ["OMPI_COMM_WORLD_RANK"] = "1", ["OMPI_COMM_WORLD_SIZE"] = "2" }));
        Assert.Equal((5, 6, "kubernetes"), Read(new() { ["JOB_COMPLETION_INDEX"] = "5", ["WORLD_SIZE"] = "6" }));
        Assert.Equal((0, 1, "default"), Read(new()));
        // A Slurm job array (sbatch --array=1-8): each element is one task whose SLURM_PROCID is 0.
        Assert.Equal((4, 8, "slurm-array"), Read(new() { ["SLURM_ARRAY_TASK_ID"] = "5", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "8", ["SLURM_PROCID"] = "0", ["SLURM_NTASKS"] = "1" }));
        Assert.Equal((7, 12, "slurm-array"), Read(new() { ["SLURM_ARRAY_TASK_ID"] = "2", ["SLURM_ARRAY_TASK_COUNT"] = "4", ["SLURM_PROCID"] = "1", ["SLURM_NTASKS"] = "3" }));
        Assert.Throws<InvalidOperationException>(() => Read(new() { ["SLURM_ARRAY_TASK_ID"] = "9", ["SLURM_ARRAY_TASK_COUNT"] = "4" }));
        Assert.Throws<InvalidOperationException>(() => Read(new() { ["RANK"] = "1" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Read(new() { ["RANK"] = "4", ["WORLD_SIZE"] = "4" }));

        static (int, int, string) Read(Dictionary<string, string> env)
        {
            RankInfo info = RankInfo.FromEnvironment(name => env.GetValueOrDefault(name));
            return (info.Rank, info.WorldSize, info.Origin);
        }
    }

    private static string FileContent(string format, int count, string prefix = "doc") => format == "jsonl"
        ? string.Concat(Enumerable.Range(0, count).Select(i => $"{{\"id\":\"{i}\",\"text\":\"{prefix} {i}\"}}\n"))
        : string.Concat(Enumerable.Range(0, count).Select(i => TempFiles.CirrusPage(i.ToString(), $"Page {i}", $"{prefix} {i}")));

    private static IDocumentSource Open(string format, string location) => SourceFactory.Create(location, new StreamLoader.Provider.Catalog.SourceSettings { Format = format });

    [Theory]
    [InlineData("jsonl")]
    [InlineData("cirrussearch")]
    public async Task ReadAsync_ResumeSameFileUnderAnotherName_ContinuesExactly(string format)
    {
        using var files = new TempFiles();
        using var elsewhere = new TempFiles();
        string absolute = files.WriteText("data.json", FileContent(format, 40));
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, absolute);
        Assert.False(Path.IsPathRooted(relative));
        string link = files.Path("link.json");
        File.CreateSymbolicLink(link, absolute);
        string copy = elsewhere.Path("renamed.json");
        File.Copy(absolute, copy);
        var options = new DocumentStreamOptions { Seed = 4, ShuffleBuffer = 8 };
        List<string> uninterrupted = await Collect.IdsAsync(new DocumentStream(Open(format, absolute), options));

        var first = new DocumentStream(Open(format, relative), options);
        List<string> head = await Collect.IdsAsync(first, take: 13);
        string saved = files.Path("position.json");
        first.Positions.PositionAt(13).Save(saved);

        foreach (string sameFile in new[] { absolute, link, copy })
        {
            var second = new DocumentStream(Open(format, sameFile), options);
            List<string> tail = await Collect.IdsAsync(second, ProviderPosition.Load(saved)).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(uninterrupted, head.Concat(tail));
        }
    }

    [Theory]
    [InlineData("jsonl", false)]
    [InlineData("jsonl", true)]
    [InlineData("cirrussearch", false)]
    [InlineData("cirrussearch", true)]
    public async Task ReadAsync_ResumeDifferentFileWithTheSameName_IsRefused(string format, bool sameLength)
    {
        using var files = new TempFiles();
        string path = files.WriteText("data.json", FileContent(format, 40));
        var first = new DocumentStream(Open(format, path), new DocumentStreamOptions());
        await Collect.IdsAsync(first, take: 5);
        ProviderPosition position = first.Positions.PositionAt(5);

        // Same name, other content: of the same length ("doc" vs "cod") or longer.
        files.WriteText("data.json", sameLength ? FileContent(format, 40, prefix: "cod") : FileContent(format, 41));
        var second = new DocumentStream(Open(format, path), new DocumentStreamOptions());

        SettingsConflictException error = await Assert.ThrowsAsync<SettingsConflictException>(() => Collect.IdsAsync(second, position).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("source", error.Message, StringComparison.Ordinal);
    }
}

