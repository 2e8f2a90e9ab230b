using System.Buffers;
using System.Text;
using NetMQ;
using NetMQ.Sockets;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// The loader side of the ZeroMQ transport: a ROUTER socket that sends each batch, as one <see cref="TensorFrame"/>,
/// to a connected consumer that holds credit. Consumers (DEALER sockets, <see cref="ZeroMqBatchReader"/>) grant
/// credit with <c>CREDIT n</c> messages, so no consumer ever has more than its window of batches in flight and
/// several consumers share one stream without duplicates.
/// </summary>
/// <remarks>
/// The socket lives on a dedicated poller thread; <see cref="WriteAsync"/> waits for credit (back-pressure), then hands
/// the serialized frame to that thread. At completion each consumer receives an end frame carrying the number of
/// batches it was sent, or an error frame with the loader's message.
/// </remarks>
public sealed class ZeroMqBatchWriter : IBatchWriter
{
    internal const string CreditCommand = "CREDIT";
    internal const string PingCommand = "PING";
    internal const string ByeCommand = "BYE";

    /// <summary>A consumer silent for this long (no credit, no heartbeat) is taken to be gone.</summary>
    public static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(15);

    private readonly RouterSocket _router;
    private readonly NetMQPoller _poller;
    private readonly NetMQQueue<Outgoing> _outbox = new();
    private readonly SemaphoreSlim _credits = new(0);
    private readonly CancellationTokenSource _allConsumersGone = new();
    private readonly NetMQTimer _liveness = new(TimeSpan.FromSeconds(1));
    private readonly TaskCompletionSource _firstPeer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal); // poller thread only
    private readonly List<string> _order = [];
    private readonly Queue<PooledFrameBuffer> _pending = new(); // poller thread only
    private Outgoing? _end;
    private int _next;
    private bool _completed;
    private long _batches;

    public ZeroMqBatchWriter(string endpoint)
    {
        NetMqBuffers.UsePooling();
        Description = endpoint;
        _router = new RouterSocket();
        _router.Options.SendHighWatermark = 64;
        _router.Options.ReceiveHighWatermark = 1024;
        _router.Options.Linger = TimeSpan.FromSeconds(30);
        _router.Options.RouterMandatory = true;
        _router.Bind(endpoint);
        // With a wildcard port ("tcp://127.0.0.1:*") the socket knows which one it got.
        BoundEndpoint = _router.Options.LastEndpoint ?? endpoint;
        _router.ReceiveReady += OnCredit;
        _outbox.ReceiveReady += OnOutgoing;
        _liveness.Elapsed += OnLiveness;
        _poller = [_router, _outbox, _liveness];
        _poller.RunAsync("streamloader-zmq-writer");
    }

    public string Description { get; }

    /// <summary>The endpoint actually bound (resolves a wildcard port).</summary>
    public string BoundEndpoint { get; }

    /// <summary>Batches sent so far, over all consumers.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Consumers that have connected so far.</summary>
    public int Consumers { get; private set; }

    /// <summary>
    /// Consumers that disconnected mid-stream. The batches they held in their credit window are gone with them; ZeroMQ
    /// cannot tell whether they were trained on, so the count is reported rather than guessed.
    /// </summary>
    public int LostConsumers { get; private set; }

    public async ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default)
    {
        PooledFrameBuffer frame;
        using (batch)
        {
            frame = PooledFrameBuffer.For(batch);
        }
        // Back-pressure: wait until some consumer has asked for another batch. (A consumer that vanished leaves its
        // unused credits counted here; the frames they admit wait in the pending queue, at most one window.)
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _allConsumersGone.Token);
        try
        {
            await _credits.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (!_allConsumersGone.IsCancellationRequested || cancellationToken.IsCancellationRequested)
            {
                frame.Dispose();
                throw;
            }
        }
        if (_allConsumersGone.IsCancellationRequested)
        {
            frame.Dispose();
            throw new ReaderClosedException($"{Description}: every consumer has gone ({LostConsumers} without saying goodbye) after {Batches} batches.");
        }
        _outbox.Enqueue(new Outgoing(frame, End: false, Error: null));
        Interlocked.Increment(ref _batches);
    }

    public async ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        if (error is null)
        {
            // An empty stream still needs someone to tell it ended.
            await _firstPeer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outbox.Enqueue(new Outgoing(null, End: true, Error: error?.Message, Done: done));
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnCredit(object? sender, NetMQSocketEventArgs e)
    {
        var message = new NetMQMessage();
        while (e.Socket.TryReceiveMultipartMessage(ref message))
        {
            if (message.FrameCount < 2)
            {
                continue; // not our protocol: ignore rather than crash the loader
            }
            string key = Convert.ToHexString(message[0].ToByteArray());
            string command = message[1].ConvertToString(Encoding.ASCII);
            _peers.TryGetValue(key, out Peer? peer);
            if (peer is not null)
            {
                peer.LastSeen = Environment.TickCount64;
            }
            if (command == ByeCommand)
            {
                if (peer is not null)
                {
                    RemovePeer(peer, lost: false);
                }
                continue;
            }
            if (command != CreditCommand || message.FrameCount < 3 || !int.TryParse(message[2].ConvertToString(Encoding.ASCII), out int credit) || credit <= 0)
            {
                continue; // PING, or nothing we understand: liveness was noted above
            }
            if (peer is null)
            {
                peer = new Peer(message[0].ToByteArray()) { LastSeen = Environment.TickCount64 };
                _peers[key] = peer;
                _order.Add(key);
                Consumers++;
                _firstPeer.TrySetResult();
            }
            peer.Credit += credit;
            _credits.Release(credit);
        }
        Flush();
    }

    private void OnLiveness(object? sender, NetMQTimerEventArgs e)
    {
        long now = Environment.TickCount64;
        foreach (Peer peer in _peers.Values.Where(p => now - p.LastSeen > (long)PeerTimeout.TotalMilliseconds).ToArray())
        {
            RemovePeer(peer, lost: true);
        }
    }

    private void OnOutgoing(object? sender, NetMQQueueEventArgs<Outgoing> e)
    {
        while (e.Queue.TryDequeue(out Outgoing? item, TimeSpan.Zero))
        {
            if (item.End)
            {
                _end = item;
            }
            else
            {
                _pending.Enqueue(item.Frame!);
            }
        }
        Flush();
    }

    /// <summary>Sends pending frames to consumers with credit (round-robin), then the end frames once nothing is pending.</summary>
    private void Flush()
    {
        while (_pending.Count > 0 && TakeCreditedPeer() is { } peer)
        {
            try
            {
                PooledFrameBuffer frame = _pending.Peek();
                _router.SendMoreFrame(peer.Identity).SendFrame(frame.Array, frame.Length); // copies into the message
                _pending.Dequeue().Dispose();
                peer.Sent++;
            }
            catch (HostUnreachableException)
            {
                // The consumer went away: keep the frame for another one, and stop counting on this one.
                DropPeer(peer);
            }
        }
        if (_end is { } end && _pending.Count == 0)
        {
            foreach (Peer peer in _peers.Values)
            {
                var frame = new ArrayBufferWriter<byte>(256);
                TensorFrame.WriteEnd(peer.Sent, end.Error, frame);
                try
                {
                    _router.SendMoreFrame(peer.Identity).SendFrame(frame.WrittenSpan.ToArray());
                }
                catch (HostUnreachableException)
                {
                    LostConsumers++;
                }
            }
            _end = null;
            end.Done?.TrySetResult();
        }
    }

    private Peer? TakeCreditedPeer()
    {
        for (int tried = 0; tried < _order.Count; tried++)
        {
            Peer peer = _peers[_order[_next++ % _order.Count]];
            if (peer.Credit > 0)
            {
                peer.Credit--;
                return peer;
            }
        }
        return null;
    }

    private void DropPeer(Peer peer) => RemovePeer(peer, lost: true);

    private void RemovePeer(Peer peer, bool lost)
    {
        string key = Convert.ToHexString(peer.Identity);
        _peers.Remove(key);
        _order.Remove(key);
        if (lost)
        {
            LostConsumers++;
        }
        if (_peers.Count == 0)
        {
            // Like a closed pipe: with nobody left to read, the loader stops instead of waiting for credit forever.
            _allConsumersGone.Cancel();
            _end?.Done?.TrySetResult();
            _end = null;
        }
    }

    public ValueTask DisposeAsync()
    {
        _poller.Stop();
        _poller.Dispose();
        _router.Dispose();
        _outbox.Dispose();
        while (_pending.TryDequeue(out PooledFrameBuffer? unsent))
        {
            unsent.Dispose();
        }
        _credits.Dispose();
        _allConsumersGone.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed record Outgoing(PooledFrameBuffer? Frame, bool End, string? Error, TaskCompletionSource? Done = null);

    private sealed class Peer
    {
        public Peer(byte[] identity)
        {
            Identity = identity;
        }

        public byte[] Identity { get; }

        public int Credit { get; set; }

        public long Sent { get; set; }

        public long LastSeen { get; set; }
    }
}
