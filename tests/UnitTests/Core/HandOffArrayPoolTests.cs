using StreamLoader.Core.Buffers;

namespace StreamLoader.Tests.Core;

/// <summary>
/// <see cref="HandOffArrayPool"/>: an array returned on one thread is rented again on another, and the pool holds no
/// more than its bounds. The tests use element types of their own, so the pools the loader uses meanwhile (and that
/// other test classes running in parallel use) are not touched; those that count what a length holds have one each.
/// </summary>
public sealed class HandOffArrayPoolTests
{
    private readonly record struct HandOff(int Value);

    private readonly record struct Bounded(int Value);

    private readonly record struct Foreign(int Value);

    private readonly record struct Sizes(int Value);

    private readonly record struct Largest(int Value);

    private readonly record struct Contended(int Value);

    private readonly record struct Huge(long A, long B, long C, long D);

    [Fact]
    public async Task Rent_AnArrayReturnedOnAnotherThread_IsRentedAgain_NotAllocated()
    {
        HandOff[] rented = await Task.Run(() => HandOffArrayPool.Rent<HandOff>(100_000));
        Assert.Equal(131_072, rented.Length);

        // Returned on a thread of its own (not the pool's), rented on yet another.
        var returner = new Thread(() => HandOffArrayPool.Return(rented));
        returner.Start();
        returner.Join();
        HandOff[] again = await Task.Run(() => HandOffArrayPool.Rent<HandOff>(70_000));

        Assert.Same(rented, again);
    }

    [Fact]
    public void Rent_GivesThePowerOfTwoAtOrAboveTheRequest_FromSixteen()
    {
        Assert.Equal(16, HandOffArrayPool.Rent<Sizes>(0).Length);
        Assert.Equal(16, HandOffArrayPool.Rent<Sizes>(1).Length);
        Assert.Equal(16, HandOffArrayPool.Rent<Sizes>(16).Length);
        Assert.Equal(32, HandOffArrayPool.Rent<Sizes>(17).Length);
        Assert.Equal(1 << 20, HandOffArrayPool.Rent<Sizes>((1 << 20) - 1).Length);
        Assert.Equal(1 << 20, HandOffArrayPool.Rent<Sizes>(1 << 20).Length);
        Assert.Equal(1 << 21, HandOffArrayPool.Rent<Sizes>((1 << 20) + 1).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => HandOffArrayPool.Rent<Sizes>(-1));
    }

    [Fact]
    public void Return_OfALengthThePoolDoesNotMake_IsLeftToTheCollector()
    {
        int[] before = HandOffArrayPool.RetainedCounts<Foreign>();

        HandOffArrayPool.Return(new Foreign[100]);
        HandOffArrayPool.Return(new Foreign[8]);
        HandOffArrayPool.Return(Array.Empty<Foreign>());

        Assert.Equal(before, HandOffArrayPool.RetainedCounts<Foreign>());
    }

    [Fact]
    public void Return_KeepsPerLengthWhatFitsInSixtyFourMebibytes_FromFourToSixtyFour()
    {
        // Bounded is 4 bytes: 1,024 elements (4 KiB) keep 64; 2^20 elements (4 MiB) keep 16; 2^23 (32 MiB) keep 4.
        for (int i = 0; i < 100; i++)
        {
            HandOffArrayPool.Return(new Bounded[1024]);
        }
        for (int i = 0; i < 20; i++)
        {
            HandOffArrayPool.Return(new Bounded[1 << 20]);
        }
        for (int i = 0; i < 6; i++)
        {
            HandOffArrayPool.Return(new Bounded[1 << 23]);
        }

        int[] counts = HandOffArrayPool.RetainedCounts<Bounded>();
        Assert.Equal(64, counts[6]);
        Assert.Equal(16, counts[16]);
        Assert.Equal(4, counts[19]);
    }

    [Fact]
    public void Rent_PastSixtyFourMebibytes_IsNotPooled()
    {
        // 2^24 four-byte elements are 64 MiB, the longest length pooled: 21 lengths from 16.
        Assert.Equal(21, HandOffArrayPool.RetainedCounts<Largest>().Length);
        Largest[] past = HandOffArrayPool.Rent<Largest>((1 << 24) + 1);
        Assert.Equal((1 << 24) + 1, past.Length);

        HandOffArrayPool.Return(new Largest[1 << 25]);
        HandOffArrayPool.Return(new Largest[1 << 24]);

        // The 64 MiB array is kept; the 128 MiB one is not.
        Assert.Equal(1, HandOffArrayPool.RetainedCounts<Largest>()[20]);
        Assert.Equal(1, HandOffArrayPool.RetainedCounts<Largest>().Sum());
    }

    [Fact]
    public void RetainedCounts_ElementsOfThirtyTwoBytes_PoolUpToTwoMebiElements()
    {
        // 2^21 elements of 32 bytes are 64 MiB.
        Assert.Equal(18, HandOffArrayPool.RetainedCounts<Huge>().Length);
    }

    [Fact]
    public async Task RentAndReturn_FromManyThreadsAtOnce_NeverHandTheSameArrayToTwoRenters()
    {
        var owners = new System.Collections.Concurrent.ConcurrentDictionary<Contended[], int>(ReferenceEqualityComparer.Instance);
        int clashes = 0;
        Task[] threads = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                Contended[] array = HandOffArrayPool.Rent<Contended>(16 << (i % 4));
                if (!owners.TryAdd(array, t))
                {
                    Interlocked.Increment(ref clashes);
                }
                owners.TryRemove(array, out _);
                HandOffArrayPool.Return(array);
            }
        })).ToArray();
        await Task.WhenAll(threads);

        Assert.Equal(0, clashes);
    }
}
