using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using NetMQ;
using NetMQ.Sockets;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// The consumer side of the ZeroMQ transport (protocol 2, docs/WIRE.md): a DEALER socket that joins the loader with a
/// window of credit, acknowledges each batch once the caller has finished with it (which grants one more), and
/// heartbeats from its own thread, so a long step never makes it look dead.
/// </summary>
/// <remarks>
/// The socket runs on its own poller thread, which parses frames into pooled batches and queues them; the window
/// bounds both the batches in flight on the network and the ones queued here. A loader silent for the peer timeout
/// (it heartbeats every fifth of it) is reported as gone, as is a loader that refuses this consumer or drops it.
/// </remarks>
public sealed class ZeroMqBatchReader : IBatchReader
{
    private readonly ZeroMqOptions _options;
    private readonly DealerSocket _dealer;
    private readonly NetMQPoller _poller;
    private readonly NetMQQueue<long> _control;
    private readonly NetMqRuntime.Lease _lease;
    private readonly ZeroMqClock _clock;
    private readonly Channel<TensorBatch> _received;
    private readonly int _window;
    private readonly long _started;
    private Exception? _fault;
    private long _batches;
    private long _lastHeard;
    private long _lastSent;
    private long _unacknowledged = -1;
    private bool _welcomed;
    private long _heartbeatMs;
    private bool _ended;
    private TaskCompletionSource? _goodbye;

    private const long ByeSignal = long.MinValue;

    public ZeroMqBatchReader(string endpoint, int window = 4, ZeroMqOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _options = (options ?? new ZeroMqOptions()).Validate();
        Description = endpoint;
        _window = window;
        _received = Channel.CreateBounded<TensorBatch>(new BoundedChannelOptions(window + 1) { SingleReader = true, SingleWriter = true });
        _lease = NetMqRuntime.Acquire();
        _dealer = new DealerSocket();
        try
        {
            _dealer.Options.Linger = TimeSpan.FromSeconds(1); // long enough for the last acknowledgement and the goodbye to leave
            _dealer.Options.ReceiveHighWatermark = window + 16;
            // A loader's message is never larger than a frame may be: a larger one closes the connection unread.
            _dealer.Options.MaxMsgSize = 8 + TensorFrame.MaxHeaderBytes + TensorFrame.MaxDataBytes;
            _options.Curve?.ApplyToClient(_dealer);
            _dealer.Connect(endpoint);
        }
        catch
        {
            _dealer.Dispose();
            _lease.Dispose();
            throw;
        }
        _control = new NetMQQueue<long>();
        _dealer.ReceiveReady += NetMqRuntime.Guard<NetMQSocketEventArgs>(OnMessage, OnPollerFault);
        _control.ReceiveReady += NetMqRuntime.Guard<NetMQQueueEventArgs<long>>(OnControl, OnPollerFault);
        _heartbeatMs = (long)_options.Heartbeat.TotalMilliseconds;
        _clock = new ZeroMqClock(_options.Time, _options.Heartbeat, NetMqRuntime.Guard(OnTimer, OnPollerFault));
        _started = _lastHeard = _lastSent = _clock.NowMilliseconds;
        _poller = [_dealer, _control, _clock.Ticks];
        _poller.RunAsync("streamloader-zmq-reader");
        _control.Enqueue(0); // HELLO, from the poller thread
    }

    public string Description { get; }

    /// <summary>Batches received so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Which batches were received, as ranges of sequences.</summary>
    public SequenceRanges Received { get; } = new();

    /// <summary>The stream's totals from the loader's end frame (acknowledged over all consumers, consumers, redeliveries); null before it.</summary>
    public IReadOnlyDictionary<string, string>? EndTotals { get; private set; }

    public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _received.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Stopped: no further batch is taken (the one the caller finished is acknowledged, the rest go to others).
            while (!cancellationToken.IsCancellationRequested && _received.Reader.TryRead(out TensorBatch? batch))
            {
                long sequence = batch.Sequence;
                Interlocked.Exchange(ref _unacknowledged, sequence);
                yield return batch;
                // The caller asks for the next one: it is done with this one.
                Acknowledge(sequence);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        if (_fault is not null)
        {
            throw _fault;
        }
    }

    private void Acknowledge(long sequence)
    {
        if (Interlocked.CompareExchange(ref _unacknowledged, -1, sequence) == sequence)
        {
            _control.Enqueue(sequence + 1); // +1 so that 0 stays HELLO
        }
    }

    private void OnControl(object? sender, NetMQQueueEventArgs<long> e)
    {
        while (e.Queue.TryDequeue(out long item, TimeSpan.Zero))
        {
            if (item == 0)
            {
                var hello = new NetMQMessage();
                hello.Append(ZeroMqProtocol.Hello);
                hello.Append(ZeroMqProtocol.Version.ToString(CultureInfo.InvariantCulture));
                hello.Append(_window.ToString(CultureInfo.InvariantCulture));
                hello.Append(_options.Name);
                if (_options.Curve is { Client: { } key } curve)
                {
                    // A loader that takes only authorized consumers checks this key and its proof (docs/WIRE.md).
                    hello.Append(string.Empty);
                    hello.Append(key.PublicKeyZ85);
                    hello.Append(ZeroMqCurve.Prove(key, curve.Server.PublicKey));
                }
                _dealer.SendMultipartMessage(hello);
            }
            else if (item == ByeSignal)
            {
                // Leaving after a failure says so: a loader whose consumers all left that way fails, not ends.
                if (_fault is { } fault)
                {
                    string reason = fault.Message.Length > 200 ? fault.Message[..200] : fault.Message;
                    _dealer.SendMoreFrame(ZeroMqProtocol.Bye).SendFrame("failed: " + reason);
                }
                else
                {
                    _dealer.SendFrame(ZeroMqProtocol.Bye);
                }
                _goodbye?.TrySetResult();
            }
            else
            {
                _dealer.SendMoreFrame(ZeroMqProtocol.Ack).SendFrame((item - 1).ToString(CultureInfo.InvariantCulture));
            }
            _lastSent = _clock.NowMilliseconds;
        }
    }

    private void OnTimer()
    {
        long now = _clock.NowMilliseconds;
        if (now - _lastSent >= _heartbeatMs)
        {
            _dealer.SendFrame(ZeroMqProtocol.Ping);
            _lastSent = now;
        }
        long silent = now - Interlocked.Read(ref _lastHeard);
        if (!_ended && silent > (long)_options.PeerTimeout.TotalMilliseconds)
        {
            Fail(_welcomed
                ? new IOException($"{Description}: nothing from the loader for {silent / 1000.0:0.#} s after {_batches} batches (it heartbeats every {_options.Heartbeat.TotalSeconds:0.#} s; --peer-timeout {_options.PeerTimeout.TotalSeconds:0.#} s): it has stopped, or the network between us is down.")
                : new IOException($"{Description}: no loader answered within {(now - _started) / 1000.0:0.#} s (--peer-timeout {_options.PeerTimeout.TotalSeconds:0.#} s); is one running there and reachable{(_options.Curve is null ? ", and without CURVE (a loader given --curve-server-key answers only devices given its public key)" : " with this --curve-server-key (a wrong key, or a loader without CURVE, is never answered)")}?"));
        }
    }

    private void OnMessage(object? sender, NetMQSocketEventArgs e)
    {
        var message = default(Msg);
        message.InitEmpty();
        try
        {
            while (!_ended && e.Socket.TryReceive(ref message, TimeSpan.Zero))
            {
                Interlocked.Exchange(ref _lastHeard, _clock.NowMilliseconds);
                if (message.Size < ZeroMqProtocol.FrameMinimum)
                {
                    // A command: its name, then its arguments as further parts.
                    var command = new NetMQMessage();
                    command.Append(message.Slice().ToArray());
                    while (message.HasMore && e.Socket.TryReceive(ref message, TimeSpan.Zero))
                    {
                        command.Append(message.Slice().ToArray());
                    }
                    Command(command[0].ConvertToString(Encoding.ASCII), command);
                    continue;
                }
                // A frame, parsed straight from the message's buffer; the batch copies into its own pooled tensors.
                Accept(message.Slice());
            }
        }
        finally
        {
            message.Close();
        }
    }

    private void Command(string command, NetMQMessage message)
    {
        switch (command)
        {
            case ZeroMqProtocol.Welcome:
                _welcomed = true;
                // Heartbeat at least as often as the loader does, so a loader with a shorter timeout never drops us.
                if (message.FrameCount > 2 && long.TryParse(message[2].ConvertToString(Encoding.ASCII), NumberStyles.Integer, CultureInfo.InvariantCulture, out long loaderHeartbeat)
                    && loaderHeartbeat > 0 && loaderHeartbeat < _heartbeatMs)
                {
                    _heartbeatMs = Math.Max(50, loaderHeartbeat);
                    _clock.Change(TimeSpan.FromMilliseconds(_heartbeatMs));
                }
                break;
            case ZeroMqProtocol.Ping:
                break;
            case ZeroMqProtocol.Gone:
                Fail(new IOException($"{Description}: the loader dropped this consumer: {(message.FrameCount > 1 ? message[1].ConvertToString(Encoding.UTF8) : "no reason given")}."));
                break;
            default:
                Fail(new InvalidDataException($"{Description}: the loader sent '{command}', which protocol {ZeroMqProtocol.Version} does not have."));
                break;
        }
    }

    /// <summary>Handles one frame: a batch, the end, or the loader's error.</summary>
    private void Accept(ReadOnlySpan<byte> frame)
    {
        try
        {
            TensorFrame.Header header = TensorFrame.Decode(frame, $"{Description}: batch {_batches}", out ReadOnlySpan<byte> data);
            if (header.CheckEnd(Description, "loader", " sent here", _batches))
            {
                EndTotals = header.Metadata;
                _ended = true;
                _received.Writer.TryComplete();
                return;
            }
            TensorBatch batch = TensorFrame.ToBatch(header, data);
            Interlocked.Increment(ref _batches);
            if (!Received.Add(batch.Sequence))
            {
                batch.Dispose();
                throw new InvalidDataException($"{Description}: the loader sent batch {batch.Sequence} a second time; a consumer must never process one twice.");
            }
            if (!_received.Writer.TryWrite(batch))
            {
                batch.Dispose();
                throw new InvalidOperationException($"{Description}: the loader sent more batches than the {_window} credits granted.");
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>A handler on the poller's thread threw (the context was terminated, the socket failed): the stream fails, it does not hang.</summary>
    private void OnPollerFault(Exception error)
    {
        Fail(new IOException(NetMqRuntime.Describe(Description, error) + $" after {Interlocked.Read(ref _batches)} batches.", error));
        _goodbye?.TrySetResult();
    }

    private void Fail(Exception error)
    {
        if (_ended)
        {
            return;
        }
        _ended = true;
        _fault = error;
        _received.Writer.TryComplete();
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        // The batch the caller took last is done with; then say goodbye, so the loader sends the rest to others.
        long last = Interlocked.Read(ref _unacknowledged);
        if (last >= 0)
        {
            Acknowledge(last);
        }
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _goodbye = sent;
        _control.Enqueue(ByeSignal);
        await Task.WhenAny(sent.Task, Task.Delay(1000)).ConfigureAwait(false);
        _poller.Stop();
        _poller.Dispose();
        _clock.Dispose();
        _dealer.Dispose();
        _control.Dispose();
        _lease.Dispose();
        while (_received.Reader.TryRead(out TensorBatch? batch))
        {
            batch.Dispose();
        }
    }
}
