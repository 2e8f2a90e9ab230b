using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using NetMQ;
using NetMQ.Sockets;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Tests.Transport;

/// <summary>
/// A consumer written from docs/WIRE.md with a raw DEALER socket, as a client in another language (or a hostile peer)
/// would be: joins unless told not to, takes batches, acknowledges only when told, and sends whatever a test asks.
/// </summary>
internal sealed class RawConsumer : IDisposable
{
    private readonly DealerSocket _socket = new();

    /// <summary>Connects to <paramref name="endpoint"/> and, with <paramref name="join"/>, sends <c>HELLO version window name [features]</c>.</summary>
    public RawConsumer(string endpoint, string version = "2", int window = 3, string? features = null, string name = "raw", bool join = true)
    {
        _socket.Options.Linger = TimeSpan.Zero;
        _socket.Connect(endpoint);
        if (!join)
        {
            return;
        }
        _socket.SendMoreFrame("HELLO").SendMoreFrame(version).SendMoreFrame(window.ToString(CultureInfo.InvariantCulture));
        if (features is null)
        {
            _socket.SendFrame(name);
        }
        else
        {
            _socket.SendMoreFrame(name).SendFrame(features);
        }
    }

    public void Ack(long sequence) => Send("ACK", sequence.ToString(CultureInfo.InvariantCulture));

    public void Bye() => _socket.SendFrame("BYE");

    /// <summary>Sends one message of these frames, as they are.</summary>
    public void Send(params string[] frames)
    {
        var message = new NetMQMessage();
        foreach (string frame in frames)
        {
            message.Append(frame, Encoding.UTF8);
        }
        _socket.SendMultipartMessage(message);
    }

    /// <summary>The next message's frames, skipping heartbeats and the welcome; null after <paramref name="timeout"/>.</summary>
    public List<byte[]>? Receive(TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var message = new NetMQMessage();
            if (_socket.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref message) && message.FrameCount > 0)
            {
                List<byte[]> frames = message.Select(f => f.ToByteArray()).ToList();
                if (frames[0].Length < 8 && Encoding.ASCII.GetString(frames[0]) is "PING" or "WELCOME")
                {
                    continue;
                }
                return frames;
            }
        }
        return null;
    }

    /// <summary>Dies: the socket closes with no goodbye.</summary>
    public void Dispose() => _socket.Dispose();

    /// <summary>The header of one frame as a raw consumer received it (its 8-byte length, then the JSON).</summary>
    public static TensorFrame.Header HeaderOf(byte[] frame)
    {
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(frame);
        return TensorFrame.ParseHeader(frame.AsSpan(8, length), "test");
    }

    /// <summary>The sequence of a batch frame.</summary>
    public static long SequenceOf(byte[] frame) => long.Parse(HeaderOf(frame).Metadata["sequence"], CultureInfo.InvariantCulture);

    /// <summary>True when <paramref name="frames"/> is a command message named <paramref name="command"/>.</summary>
    public static bool IsCommand(List<byte[]> frames, string command) => frames[0].Length < 8 && Encoding.ASCII.GetString(frames[0]) == command;
}
