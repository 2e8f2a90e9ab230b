namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// The batch protocol over ZeroMQ (docs/WIRE.md): consumers (DEALER) join a loader (ROUTER) with <c>HELLO</c>, which
/// grants their window of credit; each batch is one single-part message in the safetensors layout; a consumer
/// acknowledges each batch it is done with (<c>ACK</c>, which returns one credit), and a batch a consumer never
/// acknowledged because it left, died or went silent is sent again to another.
/// </summary>
public static class ZeroMqProtocol
{
    /// <summary>The protocol version this build speaks; a peer of another is refused with a message saying so.</summary>
    public const int Version = 2;

    /// <summary>consumer → loader: <c>HELLO</c> <c>version</c> <c>window</c> <c>name</c> [<c>features</c>, comma-separated].</summary>
    public const string Hello = "HELLO";

    /// <summary>
    /// A <c>HELLO</c> feature: tell this consumer <see cref="Drained"/>. For consumers that step in lockstep with others
    /// (data-parallel ranks), which must all stop when one can get no more.
    /// </summary>
    public const string DrainedFeature = "drained";

    /// <summary>
    /// loader → consumer, only to those that asked (<see cref="DrainedFeature"/>): <c>DRAINED</c> <c>in_flight</c>: the
    /// stream's last batch has been sent, this consumer has acknowledged all it was sent, and the <c>in_flight</c>
    /// batches not yet acknowledged are with other consumers. It may still be sent one of them (if its consumer leaves
    /// without acknowledging it), and the end frame follows once all are acknowledged.
    /// </summary>
    public const string Drained = "DRAINED";

    /// <summary>loader → consumer: <c>WELCOME</c> <c>version</c> <c>heartbeat_ms</c> <c>peer_timeout_ms</c>.</summary>
    public const string Welcome = "WELCOME";

    /// <summary>consumer → loader: <c>ACK</c> <c>sequence</c>: done with that batch; one more credit.</summary>
    public const string Ack = "ACK";

    /// <summary>Either way: a heartbeat, sent when nothing else has been sent for a heartbeat interval.</summary>
    public const string Ping = "PING";

    /// <summary>
    /// consumer → loader: <c>BYE</c> [<c>reason</c>]: leaving; the batches it did not acknowledge go to another consumer.
    /// No reason, or <see cref="ByeDone"/>, is leaving by choice; any other is leaving after a failure, and if every
    /// consumer has left before the stream ended, one of them after a failure, the loader fails instead of ending.
    /// </summary>
    public const string Bye = "BYE";

    /// <summary>The <c>BYE</c> reason of a consumer that leaves by choice (it has what it wanted).</summary>
    public const string ByeDone = "done";

    /// <summary>The most characters of a consumer's name the loader keeps (its report shows them).</summary>
    public const int MaxNameLength = 64;

    /// <summary>loader → consumer: <c>GONE</c> <c>reason</c>: the loader no longer counts on this consumer (it was silent past the timeout).</summary>
    public const string Gone = "GONE";

    /// <summary>Messages shorter than this are commands; a batch frame starts with its 8-byte header length.</summary>
    internal const int FrameMinimum = 8;
}

/// <summary>Timeouts and expectations of a ZeroMQ transport end.</summary>
public sealed record ZeroMqOptions
{
    /// <summary>
    /// A peer silent for this long (no batch, command or heartbeat) is taken to be gone: the loader drops a consumer
    /// and sends its unacknowledged batches to another; a consumer reports its loader gone. Heartbeats go out every
    /// fifth of it, from the socket's own thread, so a long training step never silences a live peer.
    /// </summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Loader: batches flow once this many consumers have joined (none gets a head start: data-parallel ranks stay
    /// even), and the stream does not end before they have (a first one leaving early does not end it for the rest).
    /// </summary>
    public int ExpectConsumers { get; init; } = 1;

    /// <summary>
    /// Loader: the most batches one consumer may hold unacknowledged, whatever window its <c>HELLO</c> asks for. A peer's
    /// number never sizes the loader's memory: a window of a billion gets this many, like any other large one.
    /// </summary>
    public int MaxWindow { get; init; } = 64;

    /// <summary>
    /// Loader: the most consumers joined at once. A <c>HELLO</c> beyond it is refused with an error frame and counted, so
    /// the loader's memory (at most every consumer's window of batches) has a bound no peer sets.
    /// </summary>
    public int MaxConsumers { get; init; } = 256;

    /// <summary>
    /// Loader: the most messages a second it answers from one peer that has not joined (commands before <c>HELLO</c>,
    /// refused <c>HELLO</c>s). Beyond it, that peer's messages are dropped unread until the next second, and counted
    /// (<see cref="ZeroMqReport.Throttled"/>): a flood costs the loader no replies and no more than a lookup each.
    /// </summary>
    public int UnjoinedMessagesPerSecond { get; init; } = 20;

    /// <summary>
    /// Loader: the largest message a consumer may send. Consumers send only short commands; a larger message closes that
    /// consumer's connection before the loader reads or allocates it.
    /// </summary>
    public long MaxConsumerMessageBytes { get; init; } = 64 << 10;

    /// <summary>
    /// Loader: the longest a consumer may hold a batch without acknowledging it. One that does (alive and heartbeating,
    /// but stuck) is told <c>GONE</c> and dropped, and its batches go to others, so it cannot hold its window forever.
    /// Zero: no deadline. It must exceed the consumer's window times its longest step.
    /// </summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// CURVE authentication and encryption (docs/WIRE.md): the loader's key pair, and which consumers may join; a
    /// consumer's copy of the loader's public key and its own key pair. Null: plain TCP, for trusted networks only.
    /// </summary>
    public ZeroMqCurve? Curve { get; init; }

    /// <summary>Consumer: how it introduces itself (in the loader's report).</summary>
    public string Name { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>
    /// The clock heartbeats and silences are measured on: the system's, or a fake one a test advances (so a test of a
    /// timeout waits for nothing but the sockets).
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How often heartbeats go out.</summary>
    public TimeSpan Heartbeat => TimeSpan.FromMilliseconds(Math.Max(50, PeerTimeout.TotalMilliseconds / 5));

    /// <summary>Throws for settings that cannot work.</summary>
    public ZeroMqOptions Validate()
    {
        if (PeerTimeout < TimeSpan.FromMilliseconds(250))
        {
            throw new ArgumentOutOfRangeException(nameof(PeerTimeout), PeerTimeout, "--peer-timeout must be at least 0.25 s.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(ExpectConsumers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWindow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConsumers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(UnjoinedMessagesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConsumerMessageBytes, 1024);
        if (AckTimeout < TimeSpan.Zero || (AckTimeout > TimeSpan.Zero && AckTimeout < TimeSpan.FromSeconds(1)))
        {
            throw new ArgumentOutOfRangeException(nameof(AckTimeout), AckTimeout, "--ack-timeout must be 0 (no deadline) or at least 1 s.");
        }
        return this;
    }
}

/// <summary>What a loader's ZeroMQ end did: who joined and left, and what became of every batch.</summary>
/// <param name="Consumers">Consumers that joined.</param>
/// <param name="Lost">Consumers that died or went silent past the timeout (no <c>BYE</c>).</param>
/// <param name="Sent">Distinct batches handed to the transport.</param>
/// <param name="Acknowledged">Batches a consumer acknowledged: processed, each once.</param>
/// <param name="Redelivered">Sends of a batch again, after its first consumer left without acknowledging it.</param>
/// <param name="Returned">Batches left unsent or unacknowledged when every consumer had left with <c>BYE</c> (they asked for no more).</param>
/// <param name="Undeliverable">Batches no consumer could take: theirs were lost and no other was left. Non-zero fails the run.</param>
/// <param name="Refused">
/// Refusals: peers that spoke another protocol version, sent a malformed <c>HELLO</c> or a command before <c>HELLO</c>,
/// and joined consumers dropped for breaking the protocol.
/// </param>
/// <param name="InFlightAtStop">Batches taken and not acknowledged (sent, or waiting to be) when the stream stopped on an error or a signal.</param>
/// <param name="IgnoredAcks"><c>ACK</c>s of a batch not in flight to that consumer (acknowledged before, another's, never sent): ignored.</param>
/// <param name="ByConsumer">Batches each consumer acknowledged, by its name.</param>
/// <param name="SequencesByConsumer">Which batches each consumer acknowledged, as ranges ("0-41,44"), by its name.</param>
/// <param name="Unauthorized">Of <paramref name="Refused"/>: consumers that did not prove an authorized key (<see cref="ZeroMqOptions.Curve"/> with authorized consumers).</param>
/// <param name="EndsUnsent">Consumers whose end frame could not be sent: they read nothing within the peer timeout after the stream ended.</param>
/// <param name="Throttled">Messages dropped unanswered from peers that had not joined, past <see cref="ZeroMqOptions.UnjoinedMessagesPerSecond"/>.</param>
public sealed record ZeroMqReport(int Consumers, int Lost, long Sent, long Acknowledged, long Redelivered, long Returned, long Undeliverable, int Refused, long InFlightAtStop, long IgnoredAcks, IReadOnlyDictionary<string, long> ByConsumer, IReadOnlyDictionary<string, string> SequencesByConsumer, long EndsUnsent = 0, int Unauthorized = 0, long Throttled = 0)
{
    /// <summary>
    /// Null when every batch taken is accounted for once the stream has stopped (sent = acknowledged + returned +
    /// undeliverable + in flight at the stop); otherwise the sentence that says by how many they differ.
    /// </summary>
    public string? Unbalanced()
    {
        long accounted = Acknowledged + Returned + Undeliverable + InFlightAtStop;
        return accounted == Sent ? null
            : $"{Sent} batches taken but {accounted} accounted for ({Acknowledged} acknowledged + {Returned} returned + {Undeliverable} undeliverable + {InFlightAtStop} in flight at the stop)";
    }
}
