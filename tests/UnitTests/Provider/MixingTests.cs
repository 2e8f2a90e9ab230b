using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Mixing;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>Several sources mixed by weight: deterministic from the seed, nothing dropped, resumable exactly.</summary>
public sealed class MixingTests
{
    private static (string Big, string Small) Write(TempFiles files, int big = 200, int small = 20)
    {
        string a = files.WriteBytes("big.jsonl.zst", Compress.Zstd(string.Concat(Enumerable.Range(0, big).Select(i => $"{{\"id\":\"a{i}\",\"text\":\"big {i}\"}}\n"))));
        string b = files.WriteBytes("small.csv.gz", TempFiles.Gzip("id,text\n" + string.Concat(Enumerable.Range(0, small).Select(i => $"b{i},small {i}\n"))));
        return (a, b);
    }

    private static DocumentStream Stream(string a, string b, int seed = 5, int epochs = 1, RankInfo? rank = null) =>
        new(SourceFactory.Create([a, b], weights: [0.7, 0.3]), new DocumentStreamOptions { Seed = seed, ShuffleBuffer = 16, Epochs = epochs, Rank = rank ?? RankInfo.Single });

    [Fact]
    public async Task Mix_ByWeight_EveryDocumentOfBothSourcesAndTheSmallOneRepeatsToKeepItsShare()
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files);

        List<string> texts = await Collect.TextsAsync(Stream(a, b));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"big {i}").Order(), texts.Where(t => t.StartsWith("big", StringComparison.Ordinal)).Order());
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"small {i}").Order(), texts.Where(t => t.StartsWith("small", StringComparison.Ordinal)).Distinct().Order());
        double share = texts.Count(t => t.StartsWith("small", StringComparison.Ordinal)) / (double)texts.Count;
        Assert.InRange(share, 0.22, 0.38);
    }

    [Fact]
    public async Task Mix_SameSeed_SameOrder_OtherSeed_OtherOrder()
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files);

        List<string> first = await Collect.TextsAsync(Stream(a, b, seed: 5));
        List<string> again = await Collect.TextsAsync(Stream(a, b, seed: 5));
        List<string> other = await Collect.TextsAsync(Stream(a, b, seed: 6));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(57)]
    [InlineData(260)]
    public async Task Mix_StopAndResume_ConcatenationEqualsTheUninterruptedStream(int stopAfter)
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files);
        List<string> whole = await Collect.TextsAsync(Stream(a, b, epochs: 2));

        DocumentStream first = Stream(a, b, epochs: 2);
        List<string> head = await Collect.TextsAsync(first, take: stopAfter);
        List<string> tail = await Collect.TextsAsync(Stream(a, b, epochs: 2), first.Positions.PositionAt(stopAfter));

        Assert.Equal(whole, head.Concat(tail));
    }

    [Fact]
    public async Task Mix_DifferentWeights_RefusesToResume()
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files);
        DocumentStream first = Stream(a, b);
        await Collect.TextsAsync(first, take: 10);
        ProviderPosition position = first.Positions.PositionAt(10);

        var other = new DocumentStream(SourceFactory.Create([a, b], weights: [0.5, 0.5]), new DocumentStreamOptions { Seed = 5, ShuffleBuffer = 16 });

        await Assert.ThrowsAsync<StreamLoader.Core.Diagnostics.SettingsConflictException>(() => Collect.TextsAsync(other, position));
    }

    [Fact]
    public async Task Mix_ARankWithAnEmptyShareOfOneSource_EndsInsteadOfSpinning()
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files, big: 50, small: 1);

        // Rank 1 of 2 gets none of the one-row source.
        List<string> texts = await Collect.TextsAsync(Stream(a, b, rank: new RankInfo(1, 2)));

        Assert.Equal(25, texts.Count);
        Assert.All(texts, t => Assert.StartsWith("big", t, StringComparison.Ordinal));
    }

    [Fact]
    public void Mix_WeightsThatDoNotFit_AreRejected()
    {
        using var files = new TempFiles();
        (string a, string b) = Write(files);

        Assert.Throws<ArgumentException>(() => new MixedSource([SourceFactory.Create(a)], [1.0]));
        Assert.Throws<ArgumentException>(() => new MixedSource([SourceFactory.Create(a), SourceFactory.Create(b)], [1.0, -1]));
        Assert.Throws<ArgumentException>(() => new MixedSource([SourceFactory.Create(a), SourceFactory.Create(b)], [1e308, 1e308]));
    }
}
