using StreamLoader.Core.Tensors;

namespace StreamLoader.Core.Transport;

/// <summary>The sending half of a transport: where the batcher puts finished batches.</summary>
public interface IBatchWriter : IAsyncDisposable
{
    /// <summary>A short description for reports ("in-process", "tcp://127.0.0.1:5555").</summary>
    string Description { get; }

    /// <summary>Sends a batch, waiting while the receiver is behind. Takes ownership: the batch is disposed once sent.</summary>
    ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Signals the end of the stream, or a fault the receiver should see.</summary>
    ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default);
}

/// <summary>The receiving half of a transport: where the device takes batches from.</summary>
public interface IBatchReader : IAsyncDisposable
{
    /// <summary>A short description for reports.</summary>
    string Description { get; }

    /// <summary>Every batch until the sender completes. The caller disposes each batch.</summary>
    IAsyncEnumerable<TensorBatch> ReadAllAsync(CancellationToken cancellationToken = default);
}

/// <summary>Reading batches inside a pipeline stage.</summary>
public static class BatchReading
{
    /// <summary>
    /// Every batch from <paramref name="reader"/> until it ends or the stage is cancelled, counting each batch (and its
    /// bytes and tokens) into the stage's input and each wait as waiting upstream. The caller disposes each batch. Once
    /// the stage is cancelled no further batch is handed out, even one already queued.
    /// </summary>
    public static async IAsyncEnumerable<Tensors.TensorBatch> ReadCountedAsync(this IBatchReader reader, Pipeline.StageContext stage)
    {
        CancellationToken token = stage.CancellationToken;
        await using IAsyncEnumerator<Tensors.TensorBatch> batches = reader.ReadAllAsync(token).GetAsyncEnumerator(token);
        while (await Pipeline.StageTiming.WaitUpstreamAsync(stage.Counters, batches.MoveNextAsync()).ConfigureAwait(false))
        {
            Tensors.TensorBatch batch = batches.Current;
            if (token.IsCancellationRequested)
            {
                // A reader drains what is already queued without looking at the token (a channel's ReadAllAsync does):
                // a stopped run must not take one more queued batch after the signal.
                batch.Dispose();
                token.ThrowIfCancellationRequested();
            }
            stage.Counters.AddIn(1, batch.ByteLength, batch.TokenCount);
            yield return batch;
        }
    }
}
