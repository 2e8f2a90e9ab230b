using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;

namespace StreamLoader.Transport.InProcess;

/// <summary>The transport for one process: a bounded channel of batches. Back-pressure comes from its capacity.</summary>
public static class InProcessTransport
{
    /// <summary>Creates a connected writer and reader that hold at most <paramref name="capacity"/> batches between them.</summary>
    public static (IBatchWriter Writer, IBatchReader Reader) Create(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Channel<TensorBatch> channel = Channel.CreateBounded<TensorBatch>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        return (new Writer(channel), new Reader(channel));
    }

    private sealed class Writer : IBatchWriter
    {
        private readonly Channel<TensorBatch> _channel;

        public Writer(Channel<TensorBatch> channel)
        {
            _channel = channel;
        }

        public string Description => "in-process channel";

        // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
        public async ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default)
        {
            try
            {
                if (!_channel.Writer.TryWrite(batch))
                {
                    await _channel.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                batch.Dispose();
                throw;
            }
        }

        public ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default)
        {
            _channel.Writer.TryComplete(error);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _channel.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Reader : IBatchReader
    {
        private readonly Channel<TensorBatch> _channel;

        public Reader(Channel<TensorBatch> channel)
        {
            _channel = channel;
        }

        public string Description => "in-process channel";

        public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            while (await _channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Stopped (Ctrl+C, SIGTERM, another stage's fault): the batches still queued are not handed out; the
                // pipeline disposes them, and a resume makes them again from the saved position.
                while (!cancellationToken.IsCancellationRequested && _channel.Reader.TryRead(out TensorBatch? batch))
                {
                    yield return batch;
                }
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        public ValueTask DisposeAsync()
        {
            // Whatever was sent but never consumed goes back to the pool.
            while (_channel.Reader.TryRead(out TensorBatch? batch))
            {
                batch.Dispose();
            }
            return ValueTask.CompletedTask;
        }
    }
}
