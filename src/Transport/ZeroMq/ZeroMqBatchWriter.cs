using NetMQ;
using NetMQ.Sockets;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// The loader side of the ZeroMQ transport (protocol 2, docs/WIRE.md): a ROUTER socket that sends each batch, as one
/// <see cref="TensorFrame"/>, to a joined consumer that holds credit, keeps it until the consumer acknowledges it, and
/// sends it to another consumer if the first leaves, dies or goes silent before it does. No batch is lost without being
/// counted (<see cref="Report"/>), and none is processed twice.
/// </summary>
/// <remarks>
/// This class is the NetMQ shell: the ROUTER socket, its poller thread and the hand-over from async writers. What the
/// protocol does with each message, batch and tick is <see cref="ZeroMqLoaderProtocol"/>, which has no socket and is
/// tested with a fake clock. The socket lives on a dedicated poller thread. <see cref="WriteAsync"/> waits while the frames not yet sent fill
/// their few slots (back-pressure: they leave only as consumers grant credit), then hands the frame to that thread.
/// The stream ends once every batch is acknowledged and <see cref="ZeroMqOptions.ExpectConsumers"/> have joined: each
/// consumer then receives an end frame carrying the batches it acknowledged and the stream's totals. When the loader
/// fails, every consumer hears why in its end frame; one expected but not yet joined is waited for, up to
/// <see cref="ZeroMqOptions.PeerTimeout"/>, to be told too.
/// </remarks>
public sealed class ZeroMqBatchWriter : IBatchWriter
{
    private const int UnsentSlots = 2;

    private readonly ZeroMqOptions _options;
    private readonly RouterSocket _router;
    private readonly NetMQPoller _poller;
    private readonly NetMQQueue<ZeroMqLoaderProtocol.Outgoing> _outbox;
    private readonly NetMqRuntime.Lease _lease;
    private readonly TaskCompletionSource _pollerFault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _slots = new(UnsentSlots);
    private readonly CancellationTokenSource _stopped = new();
    private readonly ZeroMqClock _clock;
    private readonly TaskCompletionSource _firstPeer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ZeroMqLoaderProtocol _protocol;
    private bool _completed;
    private bool _disposed;

    public ZeroMqBatchWriter(string endpoint, ZeroMqOptions? options = null)
    {
        _options = (options ?? new ZeroMqOptions()).Validate();
        Description = endpoint;
        _lease = NetMqRuntime.Acquire();
        _router = new RouterSocket();
        try
        {
            _router.Options.SendHighWatermark = 64;
            _router.Options.ReceiveHighWatermark = 1024;
            _router.Options.MaxMsgSize = _options.MaxConsumerMessageBytes;
            _router.Options.Linger = TimeSpan.FromSeconds(30);
            _router.Options.RouterMandatory = true;
            _options.Curve?.ApplyToServer(_router);
            _router.Bind(endpoint);
        }
        catch
        {
            _router.Dispose();
            _lease.Dispose();
            throw;
        }
        // With a wildcard port ("tcp://127.0.0.1:*") the socket knows which one it got.
        BoundEndpoint = _router.Options.LastEndpoint ?? endpoint;
        _outbox = new NetMQQueue<ZeroMqLoaderProtocol.Outgoing>();
        _router.ReceiveReady += NetMqRuntime.Guard<NetMQSocketEventArgs>(OnMessage, OnPollerFault);
        _outbox.ReceiveReady += NetMqRuntime.Guard<NetMQQueueEventArgs<ZeroMqLoaderProtocol.Outgoing>>(OnOutgoing, OnPollerFault);
        _clock = new ZeroMqClock(_options.Time, _options.Heartbeat, NetMqRuntime.Guard(OnTimer, OnPollerFault));
        _protocol = new ZeroMqLoaderProtocol(endpoint, _options, new RouterLink(_router), () => _clock.NowMilliseconds,
            new LoaderSignals(() => _slots.Release(), _stopped.Cancel, () => _firstPeer.TrySetResult()));
        _poller = [_router, _outbox, _clock.Ticks];
        _poller.RunAsync("streamloader-zmq-writer");
    }

    public string Description { get; }

    /// <summary>The endpoint actually bound (resolves a wildcard port).</summary>
    public string BoundEndpoint { get; }

    /// <inheritdoc cref="ZeroMqLoaderProtocol.Batches"/>
    public long Batches => _protocol.Batches;

    /// <inheritdoc cref="ZeroMqLoaderProtocol.Consumers"/>
    public int Consumers => _protocol.Consumers;

    /// <inheritdoc cref="ZeroMqLoaderProtocol.Settled"/>
    public (int Connected, int Unsent) Settled => _protocol.Settled;

    /// <inheritdoc cref="ZeroMqLoaderProtocol.Heard"/>
    public long Heard => _protocol.Heard;

    /// <inheritdoc cref="ZeroMqLoaderProtocol.LostConsumers"/>
    public int LostConsumers => _protocol.LostConsumers;

    /// <inheritdoc cref="ZeroMqLoaderProtocol.Report"/>
    public ZeroMqReport Report => _protocol.Report;

    public async ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default)
    {
        long sequence = batch.Sequence;
        PooledFrameBuffer frame;
        using (batch)
        {
            frame = PooledFrameBuffer.For(batch);
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopped.Token);
        try
        {
            await _slots.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            frame.Dispose();
            await ThrowStoppedAsync().ConfigureAwait(false);
        }
        catch
        {
            frame.Dispose();
            throw;
        }
        if (_stopped.IsCancellationRequested)
        {
            frame.Dispose();
            await ThrowStoppedAsync().ConfigureAwait(false);
        }
        _protocol.CountAccepted();
        _outbox.Enqueue(new ZeroMqLoaderProtocol.Outgoing(new ZeroMqLoaderProtocol.Frame(sequence, frame), End: false, Error: null));
    }

    /// <summary>
    /// The stream stopped: once the socket's thread has taken every batch handed over before (each then counted as
    /// returned), so that the report a writer reads on seeing the stop accounts for all of them, throws why.
    /// </summary>
    private async Task ThrowStoppedAsync()
    {
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _outbox.Enqueue(ZeroMqLoaderProtocol.Outgoing.Barrier(taken));
            await Task.WhenAny(taken.Task, _pollerFault.Task).WaitAsync(BarrierWait).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or TimeoutException)
        {
            // The socket's thread is gone or stuck: what it had not taken stays unaccounted, and the report says so.
        }
        ThrowStopped();
    }

    // How long a writer that saw the stop waits for the socket's thread to take what was handed over before.
    private static readonly TimeSpan BarrierWait = TimeSpan.FromSeconds(5);

    private void ThrowStopped()
    {
        if (_protocol.Failure is { } failure)
        {
            throw new IOException(failure.Message, failure);
        }
        throw new ReaderClosedException($"{Description}: every consumer has left after {Batches} batches ({LostConsumers} of {Consumers} without a goodbye).");
    }

    public async ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        if (error is null && !_stopped.IsCancellationRequested)
        {
            // An empty stream still needs someone to tell it ended.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopped.Token);
            try
            {
                await _firstPeer.Task.WaitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
            }
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outbox.Enqueue(new ZeroMqLoaderProtocol.Outgoing(null, End: true, Error: error?.Message, Done: done, AwaitLate: error is not null and not OperationCanceledException));
        await Task.WhenAny(done.Task, _pollerFault.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (error is null && _protocol.Failure is { } failure)
        {
            throw new IOException(failure.Message, failure);
        }
    }

    private void OnMessage(object? sender, NetMQSocketEventArgs e)
    {
        var message = new NetMQMessage();
        while (e.Socket.TryReceiveMultipartMessage(ref message))
        {
            var frames = new byte[message.FrameCount][];
            for (int i = 0; i < frames.Length; i++)
            {
                frames[i] = message[i].ToByteArray();
            }
            _protocol.Receive(frames);
        }
        _protocol.Advance();
    }

    private void OnOutgoing(object? sender, NetMQQueueEventArgs<ZeroMqLoaderProtocol.Outgoing> e)
    {
        while (e.Queue.TryDequeue(out ZeroMqLoaderProtocol.Outgoing? item, TimeSpan.Zero))
        {
            _protocol.Take(item);
        }
        _protocol.Advance();
    }

    private void OnTimer()
    {
        _protocol.Tick();
        _protocol.Advance();
    }

    /// <summary>
    /// A handler on the poller's thread threw (the context was terminated, the socket failed): writers waiting for a
    /// slot and the end's completion see the failure instead of waiting for a thread that no longer serves them.
    /// </summary>
    private void OnPollerFault(Exception error)
    {
        _protocol.Fail(new IOException(NetMqRuntime.Describe(Description, error) + $" after {Batches} batches.", error));
        _stopped.Cancel();
        _pollerFault.TrySetResult();
    }

    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }
        _disposed = true;
        _poller.Stop();
        _poller.Dispose();
        _clock.Dispose();
        _router.Dispose();
        _outbox.Dispose();
        _lease.Dispose();
        _protocol.DisposeFrames();
        _slots.Dispose();
        _stopped.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The protocol's sends on the ROUTER socket: never blocking, for the socket's thread serves every consumer.</summary>
    private sealed class RouterLink(RouterSocket router) : IConsumerLink
    {
        public bool TrySend(byte[] identity, params string[] frames)
        {
            var message = new NetMQMessage();
            message.Append(identity);
            foreach (string frame in frames)
            {
                message.Append(frame, System.Text.Encoding.UTF8);
            }
            try
            {
                return router.TrySendMultipartMessage(TimeSpan.Zero, message);
            }
            catch (HostUnreachableException)
            {
                return false;
            }
        }

        public SendResult SendTo(byte[] identity, byte[] data, int length)
        {
            try
            {
                if (!router.TrySendFrame(TimeSpan.Zero, identity, more: true))
                {
                    return SendResult.Full;
                }
                router.SendFrame(data, length); // the rest of a message whose first part was taken always goes with it
                return SendResult.Ok;
            }
            catch (HostUnreachableException)
            {
                return SendResult.Unreachable;
            }
        }
    }
}
