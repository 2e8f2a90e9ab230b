using System.Text;
using StreamLoader.Core.Tensors;
using StreamLoader.Transport.Framing;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Tests.Transport;

/// <summary>
/// The loader's ZeroMQ protocol driven with no socket, no thread and no waiting: a fake link records what it sends, and
/// time is a number the test moves. What the socket tests show with real peers and real seconds, shown step by step.
/// </summary>
public sealed class ZeroMqLoaderProtocolTests
{
    private static readonly ZeroMqOptions Options = new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(10), AckTimeout = TimeSpan.FromSeconds(60) }.Validate();

    [Fact]
    public void OneConsumer_JoinsTakesAcknowledges_ThenHearsTheEndWithItsCount()
    {
        var loader = new Loader();
        loader.Hello("a", window: 2);
        Assert.Equal([("a", ZeroMqProtocol.Welcome)], loader.Link.Commands);
        Assert.True(loader.FirstJoined);

        loader.Batch(0);
        loader.Batch(1);
        loader.Batch(2); // a window of 2: the third waits
        Assert.Equal([0L, 1L], loader.Link.BatchesTo("a"));
        Assert.Equal((1, 1), loader.Protocol.Settled);

        loader.Ack("a", 0);
        Assert.Equal([0L, 1L, 2L], loader.Link.BatchesTo("a"));
        loader.Ack("a", 1);
        loader.Ack("a", 2);
        Task done = loader.End();

        TensorFrame.Header end = Assert.Single(loader.Link.EndsTo("a"));
        Assert.True(end.IsEnd);
        Assert.Equal("3", end.Metadata["batches"]);
        Assert.True(done.IsCompleted);
        ZeroMqReport report = loader.Protocol.Report;
        Assert.Equal((3L, 3L, 0L, 0), (report.Sent, report.Acknowledged, report.Redelivered, report.Lost));
        Assert.Equal("0-2", report.SequencesByConsumer["a"]);
    }

    [Fact]
    public void AConsumerSilentPastThePeerTimeout_IsToldGone_AndItsBatchGoesToAnother()
    {
        var loader = new Loader();
        loader.Hello("a", window: 1);
        loader.Hello("b", window: 1);
        loader.Batch(0);
        loader.Batch(1);
        Assert.Equal([0L], loader.Link.BatchesTo("a"));
        Assert.Equal([1L], loader.Link.BatchesTo("b"));

        // b keeps talking; a says nothing for longer than the timeout.
        for (int second = 1; second <= 11; second++)
        {
            loader.Now += 1000;
            loader.Send("b", ZeroMqProtocol.Ping);
            loader.Tick();
        }
        Assert.Contains(loader.Link.Commands, c => c == ("a", ZeroMqProtocol.Gone));
        Assert.Equal(1, loader.Protocol.LostConsumers);

        loader.Ack("b", 1);
        Assert.Equal([1L, 0L], loader.Link.BatchesTo("b")); // a's batch, sent again
        loader.Ack("b", 0);
        loader.End();
        ZeroMqReport report = loader.Protocol.Report;
        Assert.Equal((2L, 2L, 1L, 1), (report.Sent, report.Acknowledged, report.Redelivered, report.Lost));
        Assert.Equal("0-1", report.SequencesByConsumer["b"]);
        Assert.False(report.ByConsumer.ContainsKey("a"));

        // A acknowledging late is told it was dropped, and its acknowledgement changes nothing.
        loader.Ack("a", 0);
        Assert.Equal(2, loader.Link.Commands.Count(c => c == ("a", ZeroMqProtocol.Gone)));
        Assert.Equal(2L, loader.Protocol.Report.Acknowledged);
    }

    [Fact]
    public void AConsumerThatHeartbeatsButHoldsABatchPastTheDeadline_IsDropped()
    {
        var loader = new Loader();
        loader.Hello("a", window: 1);
        loader.Batch(0);
        for (int second = 1; second <= 61; second++)
        {
            loader.Now += 1000;
            loader.Send("a", ZeroMqProtocol.Ping);
            loader.Tick();
        }
        Assert.Contains(loader.Link.Commands, c => c == ("a", ZeroMqProtocol.Gone));
        Assert.Equal((1, 0, 1), (loader.Protocol.LostConsumers, loader.Protocol.Settled.Connected, loader.Protocol.Settled.Unsent));
    }

    [Fact]
    public void EveryConsumerLost_WithBatchesHeld_FailsAfterAPeerTimeoutCountingThemUndeliverable()
    {
        var loader = new Loader();
        loader.Hello("a", window: 4);
        loader.Batch(0);
        loader.Batch(1);
        loader.Link.Unreachable.Add("a");
        loader.Batch(2); // the send finds it gone: it is dropped, and its two batches wait for another consumer
        Assert.Equal(1, loader.Protocol.LostConsumers);
        Assert.Null(loader.Protocol.Failure);

        loader.Now += 10_001;
        loader.Tick();
        Assert.True(loader.Stopped);
        Assert.Contains("2 batches could not be delivered", loader.Protocol.Failure!.Message, StringComparison.Ordinal);
        Assert.Equal(2L, loader.Protocol.Report.Undeliverable);
    }

    [Fact]
    public void EveryConsumerSaidBye_ABatchTakenAfterwards_IsReturned_AndABarrierAfterItIsDone()
    {
        var loader = new Loader();
        loader.Hello("a", window: 1);
        loader.Batch(0);
        loader.Send("a", ZeroMqProtocol.Bye);
        Assert.True(loader.Stopped);

        // The writer accepted one more before it saw the stop, then waits for a barrier before it reads the report.
        loader.Batch(1);
        var taken = new TaskCompletionSource();
        loader.Protocol.Take(ZeroMqLoaderProtocol.Outgoing.Barrier(taken));

        Assert.True(taken.Task.IsCompleted);
        Assert.Null(loader.Protocol.Report.Unbalanced());
        Assert.Equal((2L, 2L), (loader.Protocol.Report.Sent, loader.Protocol.Report.Returned));
    }

    [Fact]
    public void AMessageBeforeHello_IsRefused_AndCounted()
    {
        var loader = new Loader();
        loader.Send("x", ZeroMqProtocol.Ack, "0");
        TensorFrame.Header refusal = Assert.Single(loader.Link.EndsTo("x"));
        Assert.True(refusal.IsError);
        Assert.Contains("before HELLO", refusal.Metadata["message"], StringComparison.Ordinal);
        Assert.Equal(1, loader.Protocol.Report.Refused);
    }

    /// <summary>A protocol, its fake link and its clock; each input is followed by <c>Advance</c>, as the writer's thread does.</summary>
    private sealed class Loader
    {
        public Loader()
        {
            Protocol = new ZeroMqLoaderProtocol("test", Options, Link, () => Now, new LoaderSignals(() => { }, () => Stopped = true, () => FirstJoined = true));
        }

        public FakeLink Link { get; } = new();

        public ZeroMqLoaderProtocol Protocol { get; }

        public long Now { get; set; } = 1_000_000;

        public bool Stopped { get; private set; }

        public bool FirstJoined { get; private set; }

        public void Send(string peer, params string[] frames)
        {
            Protocol.Receive([Encoding.ASCII.GetBytes(peer), .. frames.Select(f => Encoding.UTF8.GetBytes(f))]);
            Protocol.Advance();
        }

        public void Hello(string peer, int window) => Send(peer, ZeroMqProtocol.Hello, ZeroMqProtocol.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), window.ToString(System.Globalization.CultureInfo.InvariantCulture), peer, ZeroMqProtocol.DrainedFeature);

        public void Ack(string peer, long sequence) => Send(peer, ZeroMqProtocol.Ack, sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));

        public void Batch(long sequence)
        {
            using var batch = new TensorBatch("mlm", sequence) { TokenCount = 4, RowCount = 2 };
            batch.Add("input_ids", TensorDType.I64, [2, 2]).AsSpan<long>().Fill(sequence);
            Protocol.CountAccepted();
            Protocol.Take(new ZeroMqLoaderProtocol.Outgoing(new ZeroMqLoaderProtocol.Frame(sequence, PooledFrameBuffer.For(batch)), End: false, Error: null));
            Protocol.Advance();
        }

        public void Tick()
        {
            Protocol.Tick();
            Protocol.Advance();
        }

        public Task End()
        {
            var done = new TaskCompletionSource();
            Protocol.Take(new ZeroMqLoaderProtocol.Outgoing(null, End: true, Error: null, Done: done));
            Protocol.Advance();
            return done.Task;
        }
    }

    /// <summary>Records every send by peer name; a peer in <see cref="Unreachable"/> is gone.</summary>
    private sealed class FakeLink : IConsumerLink
    {
        private readonly List<(string Peer, byte[] Data)> _frames = [];

        public List<(string Peer, string Command)> Commands { get; } = [];

        public HashSet<string> Unreachable { get; } = [];

        public bool TrySend(byte[] identity, params string[] frames)
        {
            string peer = Encoding.ASCII.GetString(identity);
            if (Unreachable.Contains(peer))
            {
                return false;
            }
            Commands.Add((peer, frames[0]));
            return true;
        }

        public SendResult SendTo(byte[] identity, byte[] data, int length)
        {
            string peer = Encoding.ASCII.GetString(identity);
            if (Unreachable.Contains(peer))
            {
                return SendResult.Unreachable;
            }
            _frames.Add((peer, data[..length]));
            return SendResult.Ok;
        }

        public List<long> BatchesTo(string peer) => [.. Headers(peer).Where(h => !h.IsEnd && !h.IsError).Select(h => long.Parse(h.Metadata["sequence"], System.Globalization.CultureInfo.InvariantCulture))];

        public List<TensorFrame.Header> EndsTo(string peer) => [.. Headers(peer).Where(h => h.IsEnd || h.IsError)];

        private IEnumerable<TensorFrame.Header> Headers(string peer) =>
            _frames.Where(f => f.Peer == peer).Select(f => TensorFrame.Decode(f.Data, "test", out _));
    }
}
