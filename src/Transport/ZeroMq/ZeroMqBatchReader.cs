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
/// The consumer side of the ZeroMQ transport: a DEALER socket that grants the loader a window of credits and returns
/// one credit for every batch the caller has finished with. See <see cref="ZeroMqBatchWriter"/> for the protocol.
/// </summary>
/// <remarks>
/// The socket runs on its own poller thread, which parses frames into pooled batches and queues them; the window
/// bounds both the batches in flight on the network and the ones queued here. A loader that sends nothing for
/// <see cref="IdleTimeout"/> is reported as gone rather than waited on forever.
/// </remarks>
public sealed class ZeroMqBatchReader : IBatchReader
{
    private readonly DealerSocket _dealer;
    private readonly NetMQPoller _poller;
    private readonly NetMQQueue<int> _creditReturns = new();
    private readonly NetMQTimer _heartbeat = new(TimeSpan.FromSeconds(2));
    private readonly Channel<TensorBatch> _received;
    private readonly int _window;
    private Exception? _fault;
    private long _batches;
    private long _lastMessageTicks = Environment.TickCount64;

    public ZeroMqBatchReader(string endpoint, int window = 4, TimeSpan? idleTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        NetMqBuffers.UsePooling();
        Description = endpoint;
        _window = window;
        IdleTimeout = idleTimeout ?? TimeSpan.FromMinutes(5);
        _received = Channel.CreateBounded<TensorBatch>(new BoundedChannelOptions(window + 1) { SingleReader = true, SingleWriter = true });
        _dealer = new DealerSocket();
        _dealer.Options.Linger = TimeSpan.FromSeconds(1); // long enough for the goodbye to leave
        _dealer.Options.ReceiveHighWatermark = window + 4;
        _dealer.Connect(endpoint);
        _dealer.ReceiveReady += OnFrame;
        _creditReturns.ReceiveReady += OnCreditReturn;
        _heartbeat.Elapsed += (_, _) => _dealer.SendFrame(ZeroMqBatchWriter.PingCommand);
        _poller = [_dealer, _creditReturns, _heartbeat];
        _poller.RunAsync("streamloader-zmq-reader");
        _creditReturns.Enqueue(window);
    }

    public string Description { get; }

    /// <summary>How long to wait for any message from the loader before reporting it gone.</summary>
    public TimeSpan IdleTimeout { get; }

    public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(IdleTimeout);
            bool more;
            try
            {
                more = await _received.Reader.WaitToReadAsync(idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                long silent = (Environment.TickCount64 - Interlocked.Read(ref _lastMessageTicks)) / 1000;
                throw new IOException($"{Description}: nothing from the loader for {silent} s (after {_batches} batches); is it running and reachable?");
            }
            if (!more)
            {
                if (_fault is not null)
                {
                    throw _fault;
                }
                yield break;
            }
            while (_received.Reader.TryRead(out TensorBatch? batch))
            {
                yield return batch;
                // The caller is done with that batch: ask for one more.
                _creditReturns.Enqueue(1);
            }
        }
    }

    private void OnCreditReturn(object? sender, NetMQQueueEventArgs<int> e)
    {
        while (e.Queue.TryDequeue(out int credit, TimeSpan.Zero))
        {
            if (credit < 0)
            {
                _dealer.SendFrame(ZeroMqBatchWriter.ByeCommand);
                _goodbye?.TrySetResult();
                continue;
            }
            _dealer.SendMoreFrame(ZeroMqBatchWriter.CreditCommand).SendFrame(credit.ToString(CultureInfo.InvariantCulture));
        }
    }

    private void OnFrame(object? sender, NetMQSocketEventArgs e)
    {
        var message = default(Msg);
        message.InitEmpty();
        try
        {
            while (e.Socket.TryReceive(ref message, TimeSpan.Zero))
            {
                Interlocked.Exchange(ref _lastMessageTicks, Environment.TickCount64);
                // Parsed straight from the message buffer; the batch copies into its own pooled tensors.
                if (!Accept(message.Slice()))
                {
                    return;
                }
            }
        }
        finally
        {
            message.Close();
        }
    }

    /// <summary>Handles one frame; false once the stream has ended or failed.</summary>
    private bool Accept(ReadOnlySpan<byte> frame)
    {
        try
        {
            if (frame.Length < 8)
            {
                throw new InvalidDataException($"{Description}: a message of {frame.Length} bytes is not a frame.");
            }
            int headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(frame));
            TensorFrame.Header header = TensorFrame.ParseHeader(frame.Slice(8, headerLength), $"{Description}: batch {_batches}");
            if (header.IsError)
            {
                throw new IOException($"{Description}: the loader failed after {_batches} batches: {header.Metadata.GetValueOrDefault("message")}");
            }
            if (header.IsEnd)
            {
                long announced = long.Parse(header.Metadata.GetValueOrDefault("batches", "-1"), CultureInfo.InvariantCulture);
                if (announced != _batches)
                {
                    throw new InvalidDataException($"{Description}: the loader reports {announced} batches sent here but {_batches} arrived.");
                }
                _received.Writer.TryComplete();
                return false;
            }
            TensorBatch batch = TensorFrame.ToBatch(header, frame[(8 + headerLength)..]);
            _batches++;
            if (!_received.Writer.TryWrite(batch))
            {
                batch.Dispose();
                throw new InvalidOperationException($"{Description}: the loader sent more batches than the {_window} credits granted.");
            }
            return true;
        }
        catch (Exception ex)
        {
            _fault = ex;
            _received.Writer.TryComplete();
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Say goodbye so the loader stops counting on this consumer (and ends if it was the last one).
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _goodbye = sent;
        _creditReturns.Enqueue(-1);
        await Task.WhenAny(sent.Task, Task.Delay(1000)).ConfigureAwait(false);
        _poller.Stop();
        _poller.Dispose();
        _dealer.Dispose();
        _creditReturns.Dispose();
        while (_received.Reader.TryRead(out TensorBatch? batch))
        {
            batch.Dispose();
        }
    }

    private TaskCompletionSource? _goodbye;
}
