using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>How the loader's protocol reaches its consumers: sends that never block (the NetMQ ROUTER socket, or a test's fake).</summary>
internal interface IConsumerLink
{
    /// <summary>Sends a command; false when the consumer is gone or not reading (its queue is full: the command is dropped).</summary>
    bool TrySend(byte[] identity, params string[] frames);

    /// <summary>Sends one frame: sent, its queue full (it is not reading), or it is gone.</summary>
    SendResult SendTo(byte[] identity, byte[] data, int length);
}

/// <summary>What became of a send.</summary>
internal enum SendResult
{
    Ok,
    Full,
    Unreachable,
}

/// <summary>What the protocol tells the writer's async side: a slot for another batch, the stream stopped, a first consumer joined.</summary>
internal sealed record LoaderSignals(Action SlotFreed, Action Stopped, Action FirstJoined);

/// <summary>
/// The loader side of ZeroMQ protocol 2 (docs/WIRE.md) as a state machine with no socket and no thread of its own:
/// consumers join with HELLO and grant credit, each batch goes to a joined consumer holding credit and is kept until it
/// is acknowledged, and goes to another if that one leaves, dies, falls silent or holds it past the deadline; the
/// stream ends once every batch is acknowledged, each consumer told its own counts. Its inputs are
/// <see cref="Receive"/> (a consumer's message), <see cref="Take"/> (a batch or the end from the writer) and
/// <see cref="Tick"/> (a heartbeat period passed), each followed by <see cref="Advance"/>; its outputs go through an
/// <see cref="IConsumerLink"/>, and its time is a function. <see cref="ZeroMqBatchWriter"/> drives it on its socket's
/// thread; a test drives it with a fake link and a fake clock.
/// </summary>
/// <remarks>Not thread-safe: one thread drives it. Its counters (<see cref="Report"/>) may be read from any thread.</remarks>
internal sealed class ZeroMqLoaderProtocol
{
    private readonly ZeroMqOptions _options;
    private readonly IConsumerLink _link;
    private readonly Func<long> _now;
    private readonly LoaderSignals _signals;

    // The socket's thread only, below (the counters are read from any thread).
    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Queue<Frame> _unsent = new();
    private readonly PriorityQueue<Frame, long> _again = new();
    private readonly Dictionary<string, SequenceRanges> _acknowledgedBy = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dropped = new(StringComparer.Ordinal);
    private readonly Queue<string> _droppedOrder = new();
    private Outgoing? _end;
    private int _next;
    private long _noConsumerSince = -1;
    private int _consumers;
    private long _settled;
    private long _heard;
    private int _lost;
    private int _refused;
    private long _sent;
    private long _acknowledged;
    private long _redelivered;
    private long _returned;
    private long _undeliverable;
    private long _inFlightAtStop;
    private long _ignoredAcks;
    private long _endsUnsent;
    private int _unauthorized;
    private long _throttled;
    // Messages heard this second from each peer that has not joined, and when the second began (poller thread only).
    private readonly Dictionary<string, int> _unjoinedHeard = new(StringComparer.Ordinal);
    private long _unjoinedSecond;
    private long _endingSince = -1;
    private string? _leftAfterFailure;
    private Exception? _failure;
    private string? _failedWith;
    private int _toldLate;
    private bool _closed;

    /// <param name="description">The endpoint, for messages.</param>
    /// <param name="options">Timeouts, windows and limits (validated).</param>
    /// <param name="link">Where sends go.</param>
    /// <param name="nowMilliseconds">The time in milliseconds (only differences matter).</param>
    /// <param name="signals">What the writer's async side is told.</param>
    public ZeroMqLoaderProtocol(string description, ZeroMqOptions options, IConsumerLink link, Func<long> nowMilliseconds, LoaderSignals signals)
    {
        Description = description;
        _options = options;
        _link = link;
        _now = nowMilliseconds;
        _signals = signals;
    }

    /// <summary>The stream's failure (the loader's, a consumer's, or the socket's thread), or null.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Distinct batches handed to the transport so far.</summary>
    public long Batches => Interlocked.Read(ref _sent);

    /// <summary>Consumers that have joined so far.</summary>
    public int Consumers => Volatile.Read(ref _consumers);

    /// <summary>
    /// As the socket's thread left things after its last event: the consumers connected now, and the batches it holds
    /// that no consumer has been sent (none had credit, or fewer than the expected consumers have joined). The pair is
    /// read at once, so a caller can wait for a state and know that nothing more happens until the next event.
    /// </summary>
    public (int Connected, int Unsent) Settled
    {
        get
        {
            long settled = Volatile.Read(ref _settled);
            return ((int)(settled >> 32), (int)(uint)settled);
        }
    }

    /// <summary>Messages heard from consumers so far: commands, acknowledgements and heartbeats.</summary>
    public long Heard => Interlocked.Read(ref _heard);

    /// <summary>Consumers that died or went silent (no goodbye); their unacknowledged batches went to others.</summary>
    public int LostConsumers => Volatile.Read(ref _lost);

    /// <summary>What became of every batch and consumer so far.</summary>
    public ZeroMqReport Report
    {
        get
        {
            lock (_acknowledgedBy)
            {
                return new ZeroMqReport(Consumers, LostConsumers, Batches, Interlocked.Read(ref _acknowledged), Interlocked.Read(ref _redelivered),
                    Interlocked.Read(ref _returned), Interlocked.Read(ref _undeliverable), Volatile.Read(ref _refused),
                    Interlocked.Read(ref _inFlightAtStop), Interlocked.Read(ref _ignoredAcks),
                    new SortedDictionary<string, long>(_acknowledgedBy.ToDictionary(p => p.Key, p => p.Value.Count), StringComparer.Ordinal),
                    new SortedDictionary<string, string>(_acknowledgedBy.ToDictionary(p => p.Key, p => p.Value.ToString()), StringComparer.Ordinal),
                    Interlocked.Read(ref _endsUnsent), Volatile.Read(ref _unauthorized), Interlocked.Read(ref _throttled));
            }
        }
    }

    /// <summary>The endpoint, for messages.</summary>
    public string Description { get; }

    /// <summary>One message from a consumer: <c>[identity, command, arguments…]</c> as the ROUTER socket gave it.</summary>
    public void Receive(IReadOnlyList<byte[]> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Count < 2)
        {
            return;
        }
        byte[] identity = message[0];
        string key = Convert.ToHexString(identity);
        string command = Encoding.ASCII.GetString(message[1]);
        _peers.TryGetValue(key, out Peer? peer);
        if (peer is not null)
        {
            peer.LastHeard = _now();
        }
        Interlocked.Increment(ref _heard);
        if (peer is null && Throttle(key))
        {
            return;
        }
        if (command == ZeroMqProtocol.Hello)
        {
            Join(identity, key, peer, message);
        }
        else if (peer is not null)
        {
            Serve(peer, command, message);
        }
        else if (_dropped.Contains(key))
        {
            // A consumer this loader dropped (silent too long, or holding a batch past the acknowledgement
            // deadline) speaks again: it must stop, for its batches went to others.
            if (command != ZeroMqProtocol.Bye)
            {
                _link.TrySend(identity, ZeroMqProtocol.Gone, "this loader dropped the consumer (it fell silent past the timeout, or held a batch past the acknowledgement deadline); its batches went to others");
            }
        }
        else if (command != ZeroMqProtocol.Bye)
        {
            // Never joined: protocol 1 began with CREDIT, a restarted loader does not know the consumers of the last one.
            Refuse(identity, $"{Quote(command)} before HELLO: a consumer joins with HELLO {ZeroMqProtocol.Version} <window> <name> first (docs/WIRE.md); this loader speaks protocol {ZeroMqProtocol.Version}, or it restarted and does not know this consumer", delivered: 0);
        }
    }

    /// <summary>What the writer handed over: a batch's frame, the end of the stream, or a barrier.</summary>
    public void Take(Outgoing item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item is { Frame: null, End: false })
        {
            item.Done?.TrySetResult();
            return;
        }
        if (item.End)
        {
            _end = item;
        }
        else if (_closed || _failure is not null)
        {
            item.Frame!.Buffer.Dispose();
            Interlocked.Increment(ref _returned);
            _signals.SlotFreed();
        }
        else
        {
            _unsent.Enqueue(item.Frame!);
        }
    }

    /// <summary>The socket's thread failed: the stream stops with <paramref name="error"/> (the first failure is kept).</summary>
    public void Fail(Exception error) => Interlocked.CompareExchange(ref _failure, error, null);

    /// <summary>Counts a batch the writer accepted (any thread).</summary>
    public void CountAccepted() => Interlocked.Increment(ref _sent);

    /// <summary>A heartbeat period passed: consumers silent past the timeout, or holding a batch past the deadline, are dropped; the others are pinged.</summary>
    public void Tick()
    {
        long now = _now();
        long timeout = (long)_options.PeerTimeout.TotalMilliseconds;
        foreach (Peer peer in _peers.Values.ToArray())
        {
            if (now - peer.LastHeard > timeout)
            {
                // Told, in case it is alive but was silent: it must not go on with batches now sent to others.
                _link.TrySend(peer.Identity, ZeroMqProtocol.Gone, $"nothing heard from this consumer for {(now - peer.LastHeard) / 1000.0:0.#} s (the timeout is {_options.PeerTimeout.TotalSeconds:0.#} s); its batches went to others");
                Remove(peer, lost: true);
            }
            else if (_options.AckTimeout > TimeSpan.Zero && peer.OldestInFlight() is { } held && now - held.SentAt > (long)_options.AckTimeout.TotalMilliseconds)
            {
                // Alive (it heartbeats) but holding a batch it does not finish: the others must not wait on it forever.
                _link.TrySend(peer.Identity, ZeroMqProtocol.Gone, $"batch {held.Sequence} was held {(now - held.SentAt) / 1000.0:0.#} s without an acknowledgement (the deadline is {_options.AckTimeout.TotalSeconds:0.#} s, --ack-timeout); its batches went to others");
                Remove(peer, lost: true);
            }
            else if (now - peer.LastSent >= (long)_options.Heartbeat.TotalMilliseconds && _link.TrySend(peer.Identity, ZeroMqProtocol.Ping))
            {
                peer.LastSent = now;
            }
        }
    }

    /// <summary>
    /// True when a peer that has not joined has already been answered <see cref="ZeroMqOptions.UnjoinedMessagesPerSecond"/>
    /// times this second: its message is dropped unread and counted. The table is cleared each second and never holds
    /// more than a bounded number of identities (beyond, the newcomers share one allowance).
    /// </summary>
    private bool Throttle(string key)
    {
        const int MaxIdentities = 4096;
        long now = _now();
        if (now - _unjoinedSecond >= 1000)
        {
            _unjoinedHeard.Clear();
            _unjoinedSecond = now;
        }
        if (!_unjoinedHeard.ContainsKey(key) && _unjoinedHeard.Count >= MaxIdentities)
        {
            key = string.Empty;
        }
        _unjoinedHeard.TryGetValue(key, out int heard);
        _unjoinedHeard[key] = ++heard;
        if (heard <= _options.UnjoinedMessagesPerSecond)
        {
            return false;
        }
        Interlocked.Increment(ref _throttled);
        return true;
    }

    /// <summary>A joined consumer's command other than HELLO; one that breaks the protocol is refused and dropped.</summary>
    private void Serve(Peer peer, string command, IReadOnlyList<byte[]> message)
    {
        switch (command)
        {
            case ZeroMqProtocol.Ack when message.Count == 3 && long.TryParse(Encoding.ASCII.GetString(message[2]), NumberStyles.None, CultureInfo.InvariantCulture, out long sequence):
                Acknowledge(peer, sequence);
                break;
            case ZeroMqProtocol.Ack:
                Violation(peer, "an ACK carries one sequence number: ACK <sequence>");
                break;
            case ZeroMqProtocol.Ping:
                break;
            case ZeroMqProtocol.Bye:
                // BYE [<reason>]: none, or "done", is leaving by choice; any other reason is leaving after a failure.
                string? reason = message.Count >= 3 ? Encoding.UTF8.GetString(message[2]) : null;
                if (reason is not null && reason != ZeroMqProtocol.ByeDone)
                {
                    _leftAfterFailure ??= $"{peer.Name}: {Printable(reason, 200)}";
                }
                Remove(peer, lost: false);
                break;
            default:
                Violation(peer, $"{Quote(command)} is not a command of protocol {ZeroMqProtocol.Version} (HELLO, ACK, PING, BYE)");
                break;
        }
    }

    /// <summary>A joined consumer broke the protocol: it is told why in an error frame and dropped; its batches go to others.</summary>
    private void Violation(Peer peer, string reason)
    {
        Refuse(peer.Identity, reason + "; this consumer is dropped and its batches go to others", peer.Delivered);
        Remove(peer, lost: true, countLost: false);
    }

    /// <summary>A command name as messages quote it: printable, at most 32 characters (a peer's bytes are never echoed whole).</summary>
    private static string Quote(string command) => $"'{Printable(command, 32)}'";

    /// <summary>At most <paramref name="limit"/> characters of <paramref name="text"/>, control characters shown as '?'.</summary>
    private static string Printable(string text, int limit)
    {
        string cut = text.Length > limit ? text[..limit] + "…" : text;
        return string.Create(cut.Length, cut, (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }

    /// <summary>
    /// The name a consumer goes by in the report: its own (printable, at most 64 characters), with "#2", "#3"… after
    /// a name another consumer of this stream already has, so consumers named alike are told apart.
    /// </summary>
    private string UniqueName(string asked)
    {
        string name = Printable(asked, ZeroMqProtocol.MaxNameLength);
        int count = _names.GetValueOrDefault(name) + 1;
        _names[name] = count;
        return count == 1 ? name : $"{name}#{count.ToString(CultureInfo.InvariantCulture)}";
    }

    private void Join(byte[] identity, string key, Peer? peer, IReadOnlyList<byte[]> message)
    {
        int version = 0, window = 0;
        bool wellFormed = message.Count >= 4 && int.TryParse(Encoding.ASCII.GetString(message[2]), NumberStyles.Integer, CultureInfo.InvariantCulture, out version)
            && int.TryParse(Encoding.ASCII.GetString(message[3]), NumberStyles.Integer, CultureInfo.InvariantCulture, out window) && window >= 1;
        string? wrong = !wellFormed ? "a HELLO must carry the protocol version and a window of at least 1: HELLO <version> <window> [<name>]"
            : version != ZeroMqProtocol.Version ? $"the consumer speaks protocol version {version}; this loader speaks version {ZeroMqProtocol.Version}" : null;
        if (wrong is not null)
        {
            // A joined consumer that sends a bad HELLO again is dropped with the refusal: an error frame ends its stream.
            if (peer is null)
            {
                Refuse(identity, wrong, delivered: 0);
            }
            else
            {
                Violation(peer, wrong);
            }
            return;
        }
        if (peer is null && _options.Curve?.Check(message.Count >= 7 ? Encoding.ASCII.GetString(message[6]) : null, message.Count >= 8 ? message[7] : null) is { } unauthorized)
        {
            // With --curve-keys, only a consumer that proves an authorized key joins; it hears why, and nothing else.
            Interlocked.Increment(ref _unauthorized);
            Refuse(identity, unauthorized, delivered: 0);
            return;
        }
        if (_failedWith is not null)
        {
            // The loader has failed: a consumer joining now hears why instead of waiting for batches.
            var late = new Peer(identity, key);
            SendEnd(late, _failedWith);
            _toldLate++;
            return;
        }
        if (peer is null && _peers.Count >= _options.MaxConsumers)
        {
            // Each consumer costs the loader its window of batches: how many may be joined at once is the loader's choice.
            Refuse(identity, $"this loader serves at most {_options.MaxConsumers} consumers at once (--max-consumers), and has that many", delivered: 0);
            return;
        }
        if (peer is null)
        {
            string name = UniqueName(message.Count >= 5 ? Encoding.UTF8.GetString(message[4]) : key[..Math.Min(8, key.Length)]);
            // Features this loader does not know are ignored, so a newer consumer can still join.
            bool drained = message.Count >= 6 && Encoding.ASCII.GetString(message[5]).Split(',', StringSplitOptions.TrimEntries).Contains(ZeroMqProtocol.DrainedFeature, StringComparer.Ordinal);
            peer = new Peer(identity, name) { LastHeard = _now(), Credit = Math.Min(window, _options.MaxWindow), WantsDrained = drained };
            _peers[key] = peer;
            _order.Add(key);
            Interlocked.Increment(ref _consumers);
            _noConsumerSince = -1;
            _signals.FirstJoined();
        }
        _link.TrySend(identity, ZeroMqProtocol.Welcome, ZeroMqProtocol.Version.ToString(CultureInfo.InvariantCulture),
            ((long)_options.Heartbeat.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), ((long)_options.PeerTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        peer.LastSent = _now();
    }

    /// <summary>Sends an error frame refusing the peer (counted); <paramref name="delivered"/> is what it was sent before.</summary>
    private void Refuse(byte[] identity, string reason, long delivered)
    {
        Interlocked.Increment(ref _refused);
        var frame = new ArrayBufferWriter<byte>(256);
        TensorFrame.WriteEnd(delivered, $"{Description}: refused: {reason}", frame);
        byte[] bytes = frame.WrittenSpan.ToArray();
        _link.SendTo(identity, bytes, bytes.Length);
    }

    private void Acknowledge(Peer peer, long sequence)
    {
        if (peer.InFlight.Remove(sequence, out Frame? frame))
        {
            frame.Buffer.Dispose();
            peer.Credit++;
            peer.Acknowledged++;
            Interlocked.Increment(ref _acknowledged);
            if (_failedWith is not null)
            {
                // Counted in flight when the stream stopped, and acknowledged since (trained as the stop came): it is
                // acknowledged now, and no longer in flight.
                Interlocked.Decrement(ref _inFlightAtStop);
            }
            lock (_acknowledgedBy)
            {
                if (!_acknowledgedBy.TryGetValue(peer.Name, out SequenceRanges? ranges))
                {
                    _acknowledgedBy[peer.Name] = ranges = new SequenceRanges();
                }
                ranges.Add(sequence);
            }
        }
        else
        {
            // A batch not in flight to this consumer: acknowledged before, another's, or never sent. Ignored, counted.
            Interlocked.Increment(ref _ignoredAcks);
        }
    }

    /// <summary>Sends what it can, then decides whether the stream has ended, failed or waits: the socket's thread calls it after every event.</summary>
    public void Advance()
    {
        AdvanceStream();
        // Published once the socket's thread has settled after an event: (connected consumers, batches held unsent).
        Volatile.Write(ref _settled, ((long)_peers.Count << 32) | (uint)(_unsent.Count + _again.Count));
    }

    private void AdvanceStream()
    {
        if (_end is { Error: { } error } failed)
        {
            if (_failedWith is null)
            {
                // The loader failed: every consumer hears why, now (and any that joins later, while this end lives).
                _failedWith = error;
                long held = _unsent.Count + _again.Count;
                foreach (Peer peer in _peers.Values)
                {
                    held += peer.InFlight.Count;
                }
                // What the stop found unfinished: sent and not acknowledged, or not sent (counted once, not lost silently).
                Interlocked.Exchange(ref _inFlightAtStop, held);
            }
            // A consumer expected but not yet joined (a device still starting) is waited for, up to the peer timeout, so
            // that it hears why rather than finding no loader; a stop (Ctrl-C, SIGTERM) waits for no one.
            bool told = SendEnds(error);
            bool awaited = failed.AwaitLate && Consumers + _toldLate < _options.ExpectConsumers
                && _now() - _endingSince <= (long)_options.PeerTimeout.TotalMilliseconds;
            if (told && !awaited)
            {
                Finish(failed);
            }
            return;
        }
        Flush();
        bool work = _unsent.Count > 0 || _again.Count > 0 || _peers.Values.Any(p => p.InFlight.Count > 0);
        if (_peers.Count == 0 && Consumers >= _options.ExpectConsumers && !_closed && _failure is null)
        {
            NoConsumerLeft(work);
        }
        if (_end is { } end && !work && Consumers >= _options.ExpectConsumers)
        {
            if (SendEnds(null))
            {
                Finish(end);
            }
        }
        else if (_end is { } stopping && (_closed || _failure is not null))
        {
            Finish(stopping);
        }
        else if (_end is not null && _unsent.Count == 0 && _again.Count == 0 && Consumers >= _options.ExpectConsumers)
        {
            TellDrained();
        }
    }

    /// <summary>
    /// The last batch has gone out but others still hold some: a consumer that asked, holds none and waits is told so
    /// (<see cref="ZeroMqProtocol.Drained"/>). A rank stepping in lockstep could otherwise wait forever for a batch that a
    /// rank blocked in the same collective holds.
    /// </summary>
    private void TellDrained()
    {
        int elsewhere = 0;
        foreach (Peer peer in _peers.Values)
        {
            elsewhere += peer.InFlight.Count;
        }
        foreach (Peer peer in _peers.Values)
        {
            if (peer.WantsDrained && !peer.ToldDrained && peer.InFlight.Count == 0
                && _link.TrySend(peer.Identity, ZeroMqProtocol.Drained, elsewhere.ToString(CultureInfo.InvariantCulture)))
            {
                peer.ToldDrained = true;
                peer.LastSent = _now();
            }
        }
    }

    /// <summary>
    /// Every consumer that joined has gone. If they all said goodbye, the stream is over (as when a pipe's reader
    /// exits). If one died holding batches, they wait a peer timeout for a consumer to take them; after that they
    /// are undeliverable and the run fails.
    /// </summary>
    private void NoConsumerLeft(bool work)
    {
        // The stop is made visible before Discard gives back the unsent slots: a writer waiting on a slot must see the
        // stream stopped once it gets one, not hand over a batch that nobody will take.
        long stranded = 0;
        foreach (var (frame, _) in _again.UnorderedItems)
        {
            stranded += frame.FromLost ? 1 : 0;
        }
        if (stranded == 0 && (_leftAfterFailure is null || (!work && _end is not null)))
        {
            _closed = true;
            _signals.Stopped();
            Discard(undeliverable: false);
            return;
        }
        if (stranded == 0)
        {
            // Every consumer said goodbye, but one because it failed: the stream is unfinished, and that is no success.
            Volatile.Write(ref _failure, new IOException($"{Description}: every consumer left before the stream ended ({_acknowledged} batches acknowledged), one after a failure: {_leftAfterFailure}."));
            _signals.Stopped();
            Discard(undeliverable: false);
            return;
        }
        long now = _now();
        if (_noConsumerSince < 0)
        {
            _noConsumerSince = now;
            return;
        }
        if (now - _noConsumerSince >= (long)_options.PeerTimeout.TotalMilliseconds)
        {
            Volatile.Write(ref _failure, new IOException($"{Description}: {stranded} batches could not be delivered: the consumers holding them were lost ({LostConsumers} of {Consumers} left without a goodbye) and no other joined within {_options.PeerTimeout.TotalSeconds:0.#} s."));
            _signals.Stopped();
            long stuck = Discard(undeliverable: true);
            Debug.Assert(stuck == stranded, "Discard counts as undeliverable exactly the batches of lost consumers");
        }
        _ = work;
    }

    /// <summary>Disposes every frame not acknowledged; returns how many were counted undeliverable (those of lost consumers, when <paramref name="undeliverable"/>).</summary>
    private long Discard(bool undeliverable)
    {
        long stuck = 0;
        while (_again.TryDequeue(out Frame? frame, out _))
        {
            if (undeliverable && frame.FromLost)
            {
                stuck++;
            }
            else
            {
                Interlocked.Increment(ref _returned);
            }
            frame.Buffer.Dispose();
        }
        while (_unsent.TryDequeue(out Frame? frame))
        {
            frame.Buffer.Dispose();
            Interlocked.Increment(ref _returned);
            _signals.SlotFreed();
        }
        Interlocked.Add(ref _undeliverable, stuck);
        return stuck;
    }

    private void Finish(Outgoing end)
    {
        _end = null;
        _endingSince = -1;
        end.Done?.TrySetResult();
    }

    /// <summary>
    /// Sends every consumer its end frame (<paramref name="error"/> when the loader failed), once; true when none is
    /// still owed. A consumer whose queue is full (it is still reading the batches before it) is owed its end until the
    /// next event: an end is never dropped for a full queue, for a consumer that misses it could only time out, not
    /// hear why. One that does not read it within the peer timeout is given up on, and counted.
    /// </summary>
    private bool SendEnds(string? error)
    {
        long now = _now();
        if (_endingSince < 0)
        {
            _endingSince = now;
        }
        bool giveUp = now - _endingSince > (long)_options.PeerTimeout.TotalMilliseconds;
        bool owed = false;
        foreach (Peer peer in _peers.Values)
        {
            if (peer.EndSent)
            {
                continue;
            }
            byte[] end = peer.End ??= EndFrame(peer, error);
            SendResult sent = _link.SendTo(peer.Identity, end, end.Length);
            if (sent == SendResult.Full && !giveUp)
            {
                owed = true;
                continue;
            }
            if (sent == SendResult.Full)
            {
                Interlocked.Increment(ref _endsUnsent);
            }
            peer.EndSent = true;
        }
        return !owed;
    }

    private void SendEnd(Peer peer, string? error)
    {
        byte[] bytes = EndFrame(peer, error);
        _link.SendTo(peer.Identity, bytes, bytes.Length);
    }

    /// <summary>A consumer's end frame: how many batches it was delivered, the loader's totals, and the error if it failed.</summary>
    private byte[] EndFrame(Peer peer, string? error)
    {
        var frame = new ArrayBufferWriter<byte>(256);
        var totals = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["total"] = Interlocked.Read(ref _acknowledged).ToString(CultureInfo.InvariantCulture),
            ["consumers"] = Consumers.ToString(CultureInfo.InvariantCulture),
            ["redelivered"] = Interlocked.Read(ref _redelivered).ToString(CultureInfo.InvariantCulture),
        };
        TensorFrame.WriteEnd(peer.Delivered, error, frame, totals);
        return frame.WrittenSpan.ToArray();
    }

    /// <summary>Sends frames to consumers with credit, round-robin: first those to deliver again (oldest first), then new ones.</summary>
    private void Flush()
    {
        foreach (Peer waiting in _peers.Values)
        {
            waiting.Congested = false;
        }
        while ((_again.Count > 0 || _unsent.Count > 0) && TakeCreditedPeer() is { } peer)
        {
            bool again = _again.Count > 0;
            Frame frame = again ? _again.Peek() : _unsent.Peek();
            switch (_link.SendTo(peer.Identity, frame.Buffer.Array, frame.Buffer.Length)) // copies into the message
            {
                case SendResult.Unreachable:
                    // The consumer went away: the frame stays for another one.
                    peer.Credit++;
                    Remove(peer, lost: true);
                    continue;
                case SendResult.Full:
                    // It is not reading (stopped, or slow on the network): the frame stays for another consumer, or for
                    // it at the next event; it is not tried again in this pass.
                    peer.Credit++;
                    peer.Congested = true;
                    continue;
            }
            if (again)
            {
                _again.Dequeue();
                Interlocked.Increment(ref _redelivered);
            }
            else
            {
                _unsent.Dequeue();
                _signals.SlotFreed();
            }
            peer.InFlight[frame.Sequence] = frame with { FromLost = false, SentAt = _now() };
            peer.ToldDrained = false; // a batch sent again after DRAINED: told again once it is acknowledged
            peer.Delivered++;
            peer.LastSent = _now();
        }
    }

    private Peer? TakeCreditedPeer()
    {
        if (Consumers < _options.ExpectConsumers)
        {
            // A stream for several consumers starts once they are all there, so none gets a head start.
            return null;
        }
        for (int tried = 0; tried < _order.Count; tried++)
        {
            Peer peer = _peers[_order[_next++ % _order.Count]];
            if (peer.Credit > 0 && !peer.Congested)
            {
                peer.Credit--;
                return peer;
            }
        }
        return null;
    }

    /// <summary>
    /// Forgets a consumer; the batches it had not acknowledged are queued for another (first, in sequence order). A
    /// <paramref name="lost"/> one (silent, unreachable, stuck or refused) is remembered, to be told GONE if it speaks
    /// again, and counted lost unless it was refused (<paramref name="countLost"/> false: counted refused instead).
    /// </summary>
    private void Remove(Peer peer, bool lost, bool countLost = true)
    {
        string key = Convert.ToHexString(peer.Identity);
        if (!_peers.Remove(key))
        {
            return;
        }
        _order.Remove(key);
        if (lost)
        {
            if (countLost)
            {
                Interlocked.Increment(ref _lost);
            }
            // Remembered (the most recent few thousand) so that it is told GONE, not "before HELLO", if it speaks again.
            if (_dropped.Add(key))
            {
                _droppedOrder.Enqueue(key);
                if (_droppedOrder.Count > 4096)
                {
                    _dropped.Remove(_droppedOrder.Dequeue());
                }
            }
        }
        foreach (Frame frame in peer.InFlight.Values)
        {
            _again.Enqueue(frame with { FromLost = lost }, frame.Sequence);
        }
        peer.Delivered -= peer.InFlight.Count;
        peer.InFlight.Clear();
    }

    /// <summary>Gives back the buffers of every batch still held (on disposal, once the socket's thread has stopped).</summary>
    public void DisposeFrames()
    {
        while (_unsent.TryDequeue(out Frame? unsent))
        {
            unsent.Buffer.Dispose();
        }
        while (_again.TryDequeue(out Frame? again, out _))
        {
            again.Buffer.Dispose();
        }
        foreach (Peer peer in _peers.Values)
        {
            foreach (Frame frame in peer.InFlight.Values)
            {
                frame.Buffer.Dispose();
            }
        }
    }

    /// <summary>A batch's frame and its sequence; <see cref="FromLost"/> when it waits because its consumer was lost; when it was last sent.</summary>
    internal sealed record Frame(long Sequence, PooledFrameBuffer Buffer, bool FromLost = false, long SentAt = 0);

    // AwaitLate: a failure (not a stop) waits for consumers expected and not yet joined, to tell them why.
    // Neither a frame nor the end: a barrier, done once everything handed over before it has been taken.
    internal sealed record Outgoing(Frame? Frame, bool End, string? Error, TaskCompletionSource? Done = null, bool AwaitLate = false)
    {
        /// <summary>A barrier: <paramref name="done"/> completes when the socket's thread reaches it, after every item handed over before.</summary>
        public static Outgoing Barrier(TaskCompletionSource done) => new(null, End: false, Error: null, Done: done);
    }

    private sealed class Peer
    {
        public Peer(byte[] identity, string name)
        {
            Identity = identity;
            Name = name;
        }

        public byte[] Identity { get; }

        public string Name { get; }

        public int Credit { get; set; }

        /// <summary>Batches sent to it and not yet acknowledged, by sequence.</summary>
        public Dictionary<long, Frame> InFlight { get; } = [];

        /// <summary>The batch it has held longest without acknowledging it, or null.</summary>
        public Frame? OldestInFlight()
        {
            Frame? oldest = null;
            foreach (Frame frame in InFlight.Values)
            {
                if (oldest is null || frame.SentAt < oldest.SentAt)
                {
                    oldest = frame;
                }
            }
            return oldest;
        }

        /// <summary>Batches sent to it that it kept (acknowledged, or still in flight).</summary>
        public long Delivered { get; set; }

        public long Acknowledged { get; set; }

        public long LastHeard { get; set; }

        public long LastSent { get; set; }

        /// <summary>A send to it found its queue full in this pass: it is skipped until the next event.</summary>
        public bool Congested { get; set; }

        /// <summary>It asked to be told <see cref="ZeroMqProtocol.Drained"/>.</summary>
        public bool WantsDrained { get; init; }

        /// <summary>It was told <see cref="ZeroMqProtocol.Drained"/> and has been sent nothing since.</summary>
        public bool ToldDrained { get; set; }

        /// <summary>Its end frame, made once when the stream ends (its counts then), kept while its queue is full.</summary>
        public byte[]? End { get; set; }

        /// <summary>Its end frame has gone (or was given up on): it is not sent twice.</summary>
        public bool EndSent { get; set; }
    }
}
