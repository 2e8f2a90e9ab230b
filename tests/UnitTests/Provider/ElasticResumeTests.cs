using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// <c>--sharding global</c> and resuming with another number of ranks: ranks consume a global order token by token (as
/// a packing batcher does), stop part-way, and a run of another size continues from their positions. Over all the runs
/// every token of every document is consumed exactly once — compared with one uninterrupted single-process run.
/// </summary>
public sealed class ElasticResumeTests
{
    private const int Seed = 5;
    private const int Buffer = 16;

    /// <summary>A many-file source (six JSONL files) or one JSONL file (seekable: a resume seeks), 240 documents of 1–25 "tokens" (words).</summary>
    private static IDocumentSource Source(TempFiles files, bool manyFiles)
    {
        static string Line(int i) => $"{{\"id\":\"d{i}\",\"text\":\"{string.Join(' ', Enumerable.Range(0, 1 + (i * 7 % 25)).Select(k => $"w{k}"))}\"}}\n";
        if (manyFiles)
        {
            Directory.CreateDirectory(files.Path("parts"));
            for (int f = 0; f < 6; f++)
            {
                files.WriteText($"parts/p{f}.jsonl", string.Concat(Enumerable.Range(f * 40, 40).Select(Line)));
            }
            return SourceFactory.Create(files.Path("parts"));
        }
        return SourceFactory.Create(files.WriteText("one.jsonl", string.Concat(Enumerable.Range(0, 240).Select(Line))));
    }

    private static int Tokens(Document document) => document.Text.Split(' ').Length;

    /// <summary>Where one rank of a run starts: nothing (a fresh run), or a position and the tokens its part-trained documents had.</summary>
    private sealed record Start(ProviderPosition? Position, IReadOnlyDictionary<long, long> PartTrained);

    /// <summary>
    /// One rank consuming its stream token by token up to <paramref name="budget"/> (null: to the end), recording each
    /// (document, token) consumed; returns where it stopped, as a trainer's checkpoint would say it.
    /// </summary>
    private static async Task<RankStop?> ConsumeAsync(IDocumentSource source, RankInfo rank, Start start, long? budget, List<(string Id, int Token)> consumed)
    {
        var stream = new DocumentStream(source, new DocumentStreamOptions { Rank = rank, Seed = Seed, ShuffleBuffer = Buffer, GlobalOrder = true });
        long left = budget ?? long.MaxValue;
        (long Ordinal, long Offset)? stop = null;
        await foreach (Document document in stream.ReadAsync(start.Position))
        {
            int first = start.PartTrained.TryGetValue(document.Ordinal, out long trained) ? (int)trained : 0;
            int length = Tokens(document);
            int token = first;
            while (token < length && left > 0)
            {
                consumed.Add((document.Id, token++));
                left--;
            }
            if (left == 0)
            {
                stop = token < length ? (document.Ordinal, token) : (document.Ordinal + 1, 0);
                break;
            }
        }
        return stop is { } at ? new RankStop(stream.Positions.PositionAt(at.Ordinal), at.Offset) : null;
    }

    /// <summary>
    /// Runs of the given world sizes one after another, each resumed from the last (re-dealt where the size changes),
    /// each rank stopping at a random depth; the last run goes to the stream's end unless <paramref name="lastStops"/>.
    /// Returns what one uninterrupted process consumes of the whole stream, what the runs consumed, and where the last
    /// run's ranks stopped.
    /// </summary>
    private static async Task<(List<(string Id, int Token)> Expected, List<(string Id, int Token)> Consumed, List<RankStop> Stops)> RunsAsync(IDocumentSource source, int[] worldSizes, bool lastStops)
    {
        var expected = new List<(string Id, int Token)>();
        await ConsumeAsync(source, RankInfo.Single, new Start(null, new Dictionary<long, long>()), null, expected);
        Assert.Equal(expected.Count, expected.Distinct().Count());

        var consumed = new List<(string Id, int Token)>();
        var random = new Random(worldSizes.Sum());
        List<RankStop>? stops = null;
        for (int run = 0; run < worldSizes.Length; run++)
        {
            int world = worldSizes[run];
            bool toTheEnd = run == worldSizes.Length - 1 && !lastStops;
            var next = new List<RankStop>();
            for (int r = 0; r < world; r++)
            {
                Start start;
                if (stops is null)
                {
                    start = new Start(null, new Dictionary<long, long>());
                }
                else if (stops.Count == world)
                {
                    // The same number of ranks: each continues from its own position, as a plain --resume does.
                    start = new Start(stops[r].Position, stops[r].Position.PartTrained(stops[r].Offset));
                }
                else
                {
                    ElasticPlan plan = ElasticResume.Redeal(stops, world, r);
                    Assert.StartsWith($"resumed {stops.Count} rank{(stops.Count == 1 ? string.Empty : "s")} as {world}: global position ", plan.Description);
                    start = new Start(plan.Start, plan.Start.PartTrained(0));
                }
                // Ranks stop at different depths, part-way into a document more often than not; every run takes
                // under half its share of what is left.
                int share = expected.Count / (worldSizes.Length + 1) / world;
                RankStop? stop = await ConsumeAsync(source, new RankInfo(r, world), start, toTheEnd ? null : random.Next(share / 3, share / 2), consumed);
                if (!toTheEnd)
                {
                    next.Add(stop ?? throw new InvalidOperationException($"run {run}, rank {r} reached the end of the stream before its budget; give the test a larger source"));
                }
            }
            stops = next;
        }
        var duplicates = consumed.GroupBy(t => t).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
        Assert.True(duplicates.Count == 0, $"consumed twice: {string.Join(", ", duplicates)}");
        return (expected, consumed, stops!);
    }

    [Theory]
    [InlineData(true, new[] { 4, 2 })]
    [InlineData(false, new[] { 4, 2 })]
    [InlineData(true, new[] { 2, 3 })]
    [InlineData(false, new[] { 2, 3 })]
    [InlineData(true, new[] { 4, 2, 2, 3 })]
    [InlineData(false, new[] { 3, 1, 2 })]
    [InlineData(false, new[] { 1, 4 })]
    public async Task Resume_WithAnotherNumberOfRanks_EveryTokenOnce_AsOneUninterruptedRun(bool manyFiles, int[] worldSizes)
    {
        using var files = new TempFiles();
        var (expected, consumed, _) = await RunsAsync(Source(files, manyFiles), worldSizes, lastStops: false);
        var missing = expected.Except(consumed).Take(5).ToList();
        Assert.True(missing.Count == 0, $"never consumed: {string.Join(", ", missing)}");
        Assert.Equal(expected.Count, consumed.Count);
    }

    /// <summary>
    /// Stopped mid-stream, the runs cannot have consumed exactly what one process would have by the same token count:
    /// ranks take documents at different rates, so where they stand spreads over a stretch of the global order. The
    /// rule: the two differ only in documents between where the slowest and the fastest rank stand.
    /// </summary>
    [Theory]
    [InlineData(true, new[] { 4, 2 })]
    [InlineData(false, new[] { 2, 3 })]
    [InlineData(false, new[] { 4, 2, 3 })]
    public async Task Resume_StoppedMidStream_DiffersFromOneProcessOnlyBetweenTheSlowestAndFastestRank(bool manyFiles, int[] worldSizes)
    {
        using var files = new TempFiles();
        var (expected, consumed, stops) = await RunsAsync(Source(files, manyFiles), worldSizes, lastStops: true);
        // Each document's place in the global order: the order one process consumes them in.
        var ordinal = new Dictionary<string, long>();
        foreach ((string id, _) in expected)
        {
            ordinal.TryAdd(id, ordinal.Count);
        }
        var sameCount = expected.Take(consumed.Count).ToHashSet();
        long slowest = stops.Min(s => s.Position.EmittedTotal);
        long fastest = stops.Max(s => s.Position.EmittedTotal);
        var outside = sameCount.Except(consumed).Concat(consumed.Except(sameCount)).Where(t => ordinal[t.Id] < slowest || ordinal[t.Id] > fastest).Take(5).ToList();
        Assert.True(outside.Count == 0, $"differing from one process outside documents {slowest}..{fastest} of the global order: {string.Join(", ", outside)}");
    }

    [Fact]
    public async Task GlobalOrder_IsTheSingleProcessOrder_DealtRoundRobin()
    {
        using var files = new TempFiles();
        IDocumentSource source = Source(files, manyFiles: true);
        List<string> single = await Collect.IdsAsync(new DocumentStream(source, new DocumentStreamOptions { Seed = Seed, ShuffleBuffer = Buffer, GlobalOrder = true }));
        for (int world = 2; world <= 3; world++)
        {
            for (int rank = 0; rank < world; rank++)
            {
                List<string> ids = await Collect.IdsAsync(new DocumentStream(source, new DocumentStreamOptions { Rank = new RankInfo(rank, world), Seed = Seed, ShuffleBuffer = Buffer, GlobalOrder = true }));
                Assert.Equal(single.Where((_, i) => i % world == rank), ids);
            }
        }
    }

    [Fact]
    public async Task Redeal_PositionsOfDifferentRuns_Refused()
    {
        using var files = new TempFiles();
        IDocumentSource source = Source(files, manyFiles: false);
        var stops = new List<RankStop>();
        for (int r = 0; r < 2; r++)
        {
            stops.Add((await ConsumeAsync(source, new RankInfo(r, 2), new Start(null, new Dictionary<long, long>()), 100, []))!);
        }
        // Another seed's position for rank 1.
        ProviderPosition other = stops[1].Position with { Seed = Seed + 1 };
        var error = Assert.Throws<SettingsConflictException>(() => ElasticResume.Redeal([stops[0], stops[1] with { Position = other }], 3, 0));
        Assert.Contains("rank 1's source or shuffle differs", error.Message);
        // A rank missing.
        error = Assert.Throws<SettingsConflictException>(() => ElasticResume.Redeal([stops[0]], 3, 0));
        Assert.Contains("the run had 2 ranks but 1 positions were given", error.Message);
        // A locally sharded run's position has no deal.
        error = Assert.Throws<SettingsConflictException>(() => ElasticResume.Redeal([stops[0] with { Position = stops[0].Position with { Deal = null } }], 3, 0));
        Assert.Contains("--sharding local", error.Message);
    }

    [Fact]
    public async Task Resume_ADealtPositionOnAnotherWorldSize_WithoutRedealing_Refused()
    {
        using var files = new TempFiles();
        IDocumentSource source = Source(files, manyFiles: false);
        RankStop stop = (await ConsumeAsync(source, new RankInfo(0, 2), new Start(null, new Dictionary<long, long>()), 100, []))!;
        var stream = new DocumentStream(source, new DocumentStreamOptions { Rank = new RankInfo(0, 3), Seed = Seed, ShuffleBuffer = Buffer, GlobalOrder = true });
        var error = await Assert.ThrowsAsync<SettingsConflictException>(async () => await Collect.IdsAsync(stream, stop.Position));
        Assert.Contains("rank 0/2 vs 0/3", error.Message);
        var local = new DocumentStream(source, new DocumentStreamOptions { Rank = new RankInfo(0, 2), Seed = Seed, ShuffleBuffer = Buffer });
        error = await Assert.ThrowsAsync<SettingsConflictException>(async () => await Collect.IdsAsync(local, stop.Position));
        Assert.Contains("--sharding global", error.Message);
    }
}
