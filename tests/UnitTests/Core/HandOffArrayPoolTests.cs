using StreamLoader.Core.Buffers;

namespace StreamLoader.Tests.Core;

/// <summary>
/// <see cref="HandOffArrayPool"/>: an array returned on one thread is rented again on another, and the pool holds no
/// more than its bounds. Each test uses its own element type, so the pools the loader uses meanwhile are not touched.
/// </summary>
public sealed class HandOffArrayPoolTests
{
    private readonly record struct HandOff(int Value);

    private readonly record struct Bounded(int Value);

    private readonly record struct Foreign(int Value);

    private readonly record struct Huge(long A, long B, long C, long D);

    [Fact]
    public async Task AnArrayReturnedOnAnotherThread_IsRentedAgain_NotAllocated()
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
        Assert.Equal(16, HandOffArrayPool.Rent<Foreign>(0).Length);
        Assert.Equal(16, HandOffArrayPool.Rent<Foreign>(16).Length);
        Assert.Equal(32, HandOffArrayPool.Rent<Foreign>(17).Length);
        Assert.Equal(1 << 20, HandOffArrayPool.Rent<Foreign>((1 << 20) - 1).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => HandOffArrayPool.Rent<Foreign>(-1));
    }

    [Fact]
    public void ArraysNotFromThePool_AreLeftToTheCollector()
    {
        int[] before = HandOffArrayPool.RetainedCounts<Foreign>();

        HandOffArrayPool.Return(new Foreign[100]);
        HandOffArrayPool.Return(new Foreign[8]);
        HandOffArrayPool.Return(Array.Empty<Foreign>());

        Assert.Equal(before, HandOffArrayPool.RetainedCounts<Foreign>());
    }

    [Fact]
    public void EachLength_KeepsAtMostWhatFitsInSixteenMebibytes_AtMostSixtyFour()
    {
        // Bounded is 4 bytes: 1,024 elements are 4 KiB, so that length keeps 64; 2^20 elements (4 MiB) keep 4.
        for (int i = 0; i < 100; i++)
        {
            HandOffArrayPool.Return(new Bounded[1024]);
        }
        for (int i = 0; i < 10; i++)
        {
            HandOffArrayPool.Return(new Bounded[1 << 20]);
        }

        int[] counts = HandOffArrayPool.RetainedCounts<Bounded>();
        Assert.Equal(64, counts[6]);
        Assert.Equal(4, counts[16]);
        // 2^22 four-byte elements are 16 MiB, the largest length pooled (one kept); longer ones are not pooled.
        Assert.Equal(19, counts.Length);
        Bounded[] past = HandOffArrayPool.Rent<Bounded>((1 << 22) + 1);
        Assert.Equal((1 << 22) + 1, past.Length);
    }

    [Fact]
    public void ElementsOfThirtyTwoBytes_PoolUpToHalfAMebiElements()
    {
        // 2^19 elements of 32 bytes are 16 MiB.
        Assert.Equal(16, HandOffArrayPool.RetainedCounts<Huge>().Length);
    }
}
