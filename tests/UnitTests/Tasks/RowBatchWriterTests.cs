using StreamLoader.Core.Buffers;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tests.Tasks;

/// <summary>
/// <see cref="RowBatchWriter"/> writes each row whole (ids, then padding) instead of filling the batch beforehand, and
/// pads the rows never written when the batch is taken. Its tensors come from a pool whose arrays hold whatever their
/// last batch left, so these tests first leave junk in arrays of the tensors' size.
/// </summary>
public sealed class RowBatchWriterTests
{
    private const int Pad = 0;
    private const int Rows = 4;
    private const int Seq = 8;

    [Fact]
    public void Take_APartialBatch_ShortRowsAndUnwrittenRowsArePadding_OverJunkFromThePool()
    {
        LeaveJunkInThePool();
        var writer = new RowBatchWriter("test", Rows, Seq, Pad);

        writer.AppendRow([5, 6, 7], prefix: 101, suffix: 102);
        writer.AppendRow([8, 9, 10, 11, 12, 13], prefix: 101, suffix: 102);
        using TensorBatch batch = writer.Take();

        long[] ids = batch[TaskTensors.InputIds].AsSpan<long>().ToArray();
        long[] mask = batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray();
        Assert.Equal([101, 5, 6, 7, 102, Pad, Pad, Pad, 101, 8, 9, 10, 11, 12, 13, 102, .. Enumerable.Repeat((long)Pad, 2 * Seq)], ids);
        Assert.Equal([1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, .. new long[2 * Seq]], mask);
        Assert.Equal(2, batch.RowCount);
        Assert.Equal(13, batch.TokenCount);
    }

    [Fact]
    public void Take_PackedRows_TailsHavePositionZeroAndDocumentMinusOne_OverJunkFromThePool()
    {
        LeaveJunkInThePool();
        var writer = new RowBatchWriter("test", Rows, Seq, Pad, boundaries: true);

        writer.AppendPackedRow([new(5, 0, 0, 0), new(6, 0, 0, 1), new(7, 1, 1, 0)], prefix: 101);
        using TensorBatch batch = writer.Take();

        long[] row = [.. Enumerable.Repeat(-1L, 3 * Seq)];
        Assert.Equal([101, 5, 6, 7, Pad, Pad, Pad, Pad, .. Enumerable.Repeat((long)Pad, 3 * Seq)], batch[TaskTensors.InputIds].AsSpan<long>().ToArray());
        Assert.Equal([1, 1, 1, 1, 0, 0, 0, 0, .. new long[3 * Seq]], batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray());
        Assert.Equal([0, 1, 2, 0, 0, 0, 0, 0, .. new long[3 * Seq]], batch[TaskTensors.PositionIds].AsSpan<long>().ToArray());
        Assert.Equal([0, 0, 0, 1, -1, -1, -1, -1, .. row], batch[TaskTensors.DocumentIds].AsSpan<long>().ToArray());
    }

    [Fact]
    public void AppendRow_OnAWriterWithBoundaries_PositionsZeroAndDocumentsMinusOneThroughout_OverJunkFromThePool()
    {
        LeaveJunkInThePool();
        var writer = new RowBatchWriter("test", Rows, Seq, Pad, boundaries: true);

        writer.AppendRow([5, 6, 7], prefix: 101);
        using TensorBatch batch = writer.Take();

        Assert.Equal([101, 5, 6, 7, Pad, Pad, Pad, Pad, .. Enumerable.Repeat((long)Pad, 3 * Seq)], batch[TaskTensors.InputIds].AsSpan<long>().ToArray());
        Assert.Equal(new long[Rows * Seq], batch[TaskTensors.PositionIds].AsSpan<long>().ToArray());
        Assert.Equal(Enumerable.Repeat(-1L, Rows * Seq), batch[TaskTensors.DocumentIds].AsSpan<long>().ToArray());
    }

    [Fact]
    public void Take_AFullBatch_EveryRowAsWritten_AndTheNextBatchStartsAfresh()
    {
        LeaveJunkInThePool();
        var writer = new RowBatchWriter("test", 2, Seq, Pad);

        writer.AppendRow([1, 2, 3, 4, 5, 6, 7, 8]);
        writer.AppendRow([9]);
        using TensorBatch first = writer.Take();
        writer.AppendRow([4, 4]);
        using TensorBatch second = writer.Take();

        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, Pad, Pad, Pad, Pad, Pad, Pad, Pad], first[TaskTensors.InputIds].AsSpan<long>().ToArray());
        Assert.Equal([4, 4, Pad, Pad, Pad, Pad, Pad, Pad, .. Enumerable.Repeat((long)Pad, Seq)], second[TaskTensors.InputIds].AsSpan<long>().ToArray());
        Assert.Equal([1, 1, 0, 0, 0, 0, 0, 0, .. new long[Seq]], second[TaskTensors.AttentionMask].AsSpan<long>().ToArray());
    }

    /// <summary>Rents arrays of every tensor's size, fills them with junk and returns them, so the writer's tensors are likely to get junk.</summary>
    private static void LeaveJunkInThePool()
    {
        var arrays = new List<byte[]>();
        for (int i = 0; i < 16; i++)
        {
            foreach (int bytes in new[] { Rows * Seq * sizeof(long), 2 * Seq * sizeof(long) })
            {
                byte[] array = HandOffArrayPool.Rent<byte>(bytes);
                array.AsSpan().Fill(0xAB);
                arrays.Add(array);
            }
        }
        arrays.ForEach(HandOffArrayPool.Return);
    }
}
