using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Tests.Transport;

/// <summary>The ZeroMQ transport over real TCP sockets on 127.0.0.1: delivery, credit-based back-pressure, sharing, faults.</summary>
public sealed class ZeroMqTransportTests
{
    private static TensorBatch Batch(long sequence)
    {
        var batch = new TensorBatch("mlm", sequence) { TokenCount = 4, RowCount = 2 };
        batch.Add("input_ids", TensorDType.I64, [2, 2]).AsSpan<long>().Fill(sequence);
        return batch;
    }

    [Fact]
    public async Task RoundTrip_DeliversEveryBatchInOrderThenEnds()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, idleTimeout: TimeSpan.FromSeconds(20));

        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        for (int i = 0; i < 50; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        List<TensorBatch> batches = await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.Equal(49L, batches[49]["input_ids"].AsSpan<long>()[3]);
        batches.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task Credits_BoundTheBatchesInFlight()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, idleTimeout: TimeSpan.FromSeconds(20));

        // The reader grants two credits on connect; nobody consumes yet.
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        await writer.WriteAsync(Batch(1)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Task third = writer.WriteAsync(Batch(2)).AsTask();
        await Task.Delay(300);
        Assert.False(third.IsCompleted, "the loader sent a third batch without credit");

        await using IAsyncEnumerator<TensorBatch> e = reader.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await e.MoveNextAsync());
        e.Current.Dispose();
        Assert.True(await e.MoveNextAsync()); // taking the second batch returns the credit for the first
        e.Current.Dispose();
        await third.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task TwoConsumers_ShareTheStreamWithoutDuplicatesOrLoss()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var a = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, idleTimeout: TimeSpan.FromSeconds(20));
        await using var b = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, idleTimeout: TimeSpan.FromSeconds(20));
        Task<List<TensorBatch>> readA = Collect.AllAsync(a.ReadAllAsync());
        Task<List<TensorBatch>> readB = Collect.AllAsync(b.ReadAllAsync());
        while (writer.Consumers < 2)
        {
            await Task.Delay(20);
        }

        for (int i = 0; i < 40; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        List<TensorBatch> fromA = await readA.WaitAsync(TimeSpan.FromSeconds(30));
        List<TensorBatch> fromB = await readB.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), fromA.Concat(fromB).Select(x => x.Sequence).Order());
        Assert.NotEmpty(fromA);
        Assert.NotEmpty(fromB);
        fromA.Concat(fromB).ToList().ForEach(x => x.Dispose());
    }

    [Fact]
    public async Task LoaderFailure_ReachesTheConsumerWithItsMessage()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 4, idleTimeout: TimeSpan.FromSeconds(20));
        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        await writer.CompleteAsync(new InvalidDataException("dump.json.gz: line 7: malformed")).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        IOException error = await Assert.ThrowsAsync<IOException>(() => reading.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("dump.json.gz: line 7: malformed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LastConsumerLeaves_LoaderStopsWaitingForCredit()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 1, idleTimeout: TimeSpan.FromSeconds(20));
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Task blocked = writer.WriteAsync(Batch(1)).AsTask(); // no credit left

        await reader.DisposeAsync(); // says goodbye

        ReaderClosedException error = await Assert.ThrowsAsync<ReaderClosedException>(() => blocked.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("every consumer has gone", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, writer.LostConsumers);
    }

    [Fact]
    public async Task SilentLoader_IsReportedAfterTheIdleTimeoutInsteadOfHanging()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, idleTimeout: TimeSpan.FromMilliseconds(500));

        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 20));
        Assert.Contains("nothing from the loader", error.Message, StringComparison.Ordinal);
    }
}
