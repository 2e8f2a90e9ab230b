using System.IO.Pipes;
using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.InProcess;
using StreamLoader.Transport.Streams;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Benchmarks;

/// <summary>
/// Moving the same batches through each transport: 64 MLM batches of 32 x 512 (input_ids, attention_mask, labels as
/// int64: 393 KB each, 25 MB in all), created, sent, received and disposed. In-process is the baseline; the others
/// add serialization into frames, a copy through the kernel, and parsing back into pooled batches. Raw NetMQ PUSH/PULL
/// moves the same frames' bytes, serialized once, with no protocol and no parsing: the floor under StreamLoader's ZeroMQ.
/// </summary>
[MemoryDiagnoser]
public class TransportBenchmarks
{
    private const int Batches = 64;
    private const int Rows = 32;
    private const int Columns = 512;

    /// <summary>Bytes of tensor data moved per invocation (for MB/s: divide by the mean; batches/s: 64 over the mean).</summary>
    public const long BytesPerInvocation = (long)Batches * Rows * Columns * 8 * 3;

    private static TensorBatch MakeBatch(long sequence)
    {
        var batch = new TensorBatch("mlm", sequence) { RowCount = Rows, TokenCount = Rows * Columns };
        int[] shape = [Rows, Columns];
        batch.Add("input_ids", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(sequence);
        batch.Add("attention_mask", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(1);
        batch.Add("labels", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(-100);
        return batch;
    }

    private static async Task<long> PumpAsync(IBatchWriter writer, IBatchReader reader)
    {
        Task<long> consume = Task.Run(async () =>
        {
            long rows = 0;
            await foreach (TensorBatch batch in reader.ReadAllAsync())
            {
                rows += batch.RowCount;
                batch.Dispose();
            }
            return rows;
        });
        for (int i = 0; i < Batches; i++)
        {
            await writer.WriteAsync(MakeBatch(i));
        }
        await writer.CompleteAsync();
        return await consume;
    }

    [Benchmark(Baseline = true)]
    public async Task<long> InProcessChannel()
    {
        (IBatchWriter writer, IBatchReader reader) = InProcessTransport.Create(8);
        await using (writer)
        await using (reader)
        {
            return await PumpAsync(writer, reader);
        }
    }

    [Benchmark]
    public async Task<long> OsPipeFrames()
    {
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        await using var writer = new StreamBatchWriter(server, "pipe", leaveOpen: true);
        await using var reader = new StreamBatchReader(client, "pipe", leaveOpen: true);
        return await PumpAsync(writer, reader);
    }

    [Benchmark]
    public async Task<long> UnixSocketFrames()
    {
        string path = Path.Combine(Path.GetTempPath(), $"streamloader-bench-{Environment.ProcessId}.sock");
        Task<StreamBatchWriter> accepting = UnixSocketTransportKind.ListenAsync("unix:" + path);
        await using StreamBatchReader reader = await UnixSocketTransportKind.ConnectAsync("unix:" + path);
        await using StreamBatchWriter writer = await accepting;
        return await PumpAsync(writer, reader);
    }

    [Benchmark]
    public async Task<long> ZeroMqTcpLoopback()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 8);
        return await PumpAsync(writer, reader);
    }

    private byte[][]? _frames;

    [GlobalSetup(Target = nameof(RawNetMqPushPull))]
    public void SerializeFrames()
    {
        // The same pooled buffers StreamLoader's ZeroMQ ends use, so the two differ by the protocol alone.
        StreamLoader.Transport.ZeroMq.NetMqRuntime.UsePooling();
        _frames = new byte[Batches][];
        for (int i = 0; i < Batches; i++)
        {
            using TensorBatch batch = MakeBatch(i);
            var frame = new System.Buffers.ArrayBufferWriter<byte>();
            StreamLoader.Transport.Framing.TensorFrame.Write(batch, frame);
            _frames[i] = frame.WrittenSpan.ToArray();
        }
    }

    [Benchmark]
    public long RawNetMqPushPull()
    {
        using var push = new NetMQ.Sockets.PushSocket();
        using var pull = new NetMQ.Sockets.PullSocket();
        push.Options.SendHighWatermark = 8;
        pull.Options.ReceiveHighWatermark = 8;
        int port = push.BindRandomPort("tcp://127.0.0.1");
        pull.Connect($"tcp://127.0.0.1:{port}");
        Task sending = Task.Run(() =>
        {
            foreach (byte[] frame in _frames!)
            {
                NetMQ.OutgoingSocketExtensions.SendFrame(push, frame);
            }
        });
        long bytes = 0;
        var message = default(NetMQ.Msg);
        message.InitEmpty();
        for (int i = 0; i < Batches; i++)
        {
            NetMQ.ReceivingSocketExtensions.Receive(pull, ref message);
            bytes += message.Size;
        }
        message.Close();
        sending.Wait();
        return bytes;
    }
}
