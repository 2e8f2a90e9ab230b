using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;

namespace StreamLoader.Transport;

/// <summary>
/// Several loaders feeding one device (<c>--in tcp://a:5555,tcp://b:5555</c>): their batches interleaved as they come,
/// ending only once every loader has sent its end frame, failing as soon as one fails. A batch counts as done with
/// (acknowledged, over ZeroMQ) only when the caller asks for the next one, as with a single reader.
/// </summary>
public sealed class MergedBatchReader : IBatchReader
{
    private readonly IReadOnlyList<IBatchReader> _readers;

    public MergedBatchReader(IReadOnlyList<IBatchReader> readers)
    {
        ArgumentOutOfRangeException.ThrowIfZero(readers.Count);
        _readers = readers;
    }

    public string Description => string.Join(" + ", _readers.Select(r => r.Description));

    /// <summary>The loaders' readers.</summary>
    public IReadOnlyList<IBatchReader> Readers => _readers;

    public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var merged = Channel.CreateBounded<(TensorBatch Batch, SemaphoreSlim Done)>(_readers.Count);
        var pumps = new List<Task>(_readers.Count);
        var done = _readers.Select(_ => new SemaphoreSlim(0)).ToArray();
        for (int i = 0; i < _readers.Count; i++)
        {
            pumps.Add(PumpAsync(_readers[i], done[i], merged.Writer, stop.Token));
        }
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? t.Exception?.InnerException), TaskScheduler.Default);
        try
        {
            await foreach ((TensorBatch batch, SemaphoreSlim release) in merged.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
                // The caller is done with it: its reader may move on (and acknowledge it).
                release.Release();
            }
        }
        finally
        {
            stop.Cancel();
            foreach (SemaphoreSlim semaphore in done)
            {
                semaphore.Release();
            }
            try
            {
                await Task.WhenAll(pumps).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Their fault, if any, reached the caller through the channel.
            }
            while (merged.Reader.TryRead(out (TensorBatch Batch, SemaphoreSlim Done) left))
            {
                left.Batch.Dispose();
            }
            foreach (SemaphoreSlim semaphore in done)
            {
                semaphore.Dispose();
            }
        }
    }

    private static async Task PumpAsync(IBatchReader reader, SemaphoreSlim done, ChannelWriter<(TensorBatch, SemaphoreSlim)> output, CancellationToken cancellationToken)
    {
        await foreach (TensorBatch batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await output.WriteAsync((batch, done), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                batch.Dispose();
                throw;
            }
            await done.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IBatchReader reader in _readers)
        {
            await reader.DisposeAsync().ConfigureAwait(false);
        }
    }
}
