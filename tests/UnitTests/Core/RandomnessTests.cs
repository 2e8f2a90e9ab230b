using StreamLoader.Core.Randomness;

namespace StreamLoader.Tests.Core;

public sealed class RandomnessTests
{
    [Fact]
    public void Xoshiro256_SameSeedSameStream_DifferentSeedDifferentStream()
    {
        var a = new Xoshiro256(42);
        var b = new Xoshiro256(42);
        var c = new Xoshiro256(43);
        ulong[] first = Enumerable.Range(0, 100).Select(_ => a.NextUInt64()).ToArray();
        Assert.Equal(first, Enumerable.Range(0, 100).Select(_ => b.NextUInt64()).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 100).Select(_ => c.NextUInt64()).ToArray());
    }

    [Fact]
    public void Xoshiro256_NextInt32_StaysInRangeAndIsRoughlyUniform()
    {
        var random = new Xoshiro256(7);
        int[] counts = new int[10];
        for (int i = 0; i < 100_000; i++)
        {
            counts[random.NextInt32(10)]++;
        }
        Assert.All(counts, n => Assert.InRange(n, 9_500, 10_500));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Xoshiro256(1).NextInt32(0));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.15)]
    [InlineData(0.8)]
    [InlineData(1.0)]
    public void Xoshiro256_Chance_MatchesTheProbability(double p)
    {
        var random = new Xoshiro256(3);
        ulong threshold = Xoshiro256.Threshold(p);
        int hits = 0;
        for (int i = 0; i < 200_000; i++)
        {
            hits += random.Chance(threshold) ? 1 : 0;
        }
        Assert.InRange(hits / 200_000.0, p - 0.005, p + 0.005);
    }

    [Fact]
    public void Seeds_Derive_IsStableAndSpreads()
    {
        Assert.Equal(Seeds.Derive(1, 2, 3), Seeds.Derive(1, 2, 3));
        Assert.Equal(1000, Enumerable.Range(0, 1000).Select(i => Seeds.Derive(1, i)).Distinct().Count());
        Assert.All(Enumerable.Range(0, 100), i => Assert.True(Seeds.Derive(i, i) >= 0));
    }
}
