using StreamLoader.Core.Tensors;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Tests.Transport;

/// <summary>Tiny batches, each filled with its sequence number, for the ZeroMQ tests that count what arrives.</summary>
internal static class SmallBatches
{
    /// <summary>A 2×2 batch of <paramref name="sequence"/>.</summary>
    public static TensorBatch Batch(long sequence)
    {
        var batch = new TensorBatch("mlm", sequence) { TokenCount = 4, RowCount = 2 };
        batch.Add("input_ids", TensorDType.I64, [2, 2]).AsSpan<long>().Fill(sequence);
        return batch;
    }

    /// <summary>Writes batches 0 … <paramref name="count"/> − 1, then ends the stream.</summary>
    public static async Task WriteAllAsync(ZeroMqBatchWriter writer, int count)
    {
        for (int i = 0; i < count; i++)
        {
            await writer.WriteAsync(Batch(i));
        }
        await writer.CompleteAsync();
    }
}
