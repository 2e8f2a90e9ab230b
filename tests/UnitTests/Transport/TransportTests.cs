using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Framing;
using StreamLoader.Transport.InProcess;
using StreamLoader.Transport.Streams;

namespace StreamLoader.Tests.Transport;

public sealed class TransportTests
{
    private static TensorBatch MakeBatch(long sequence, int rows = 3, int columns = 5)
    {
        var batch = new TensorBatch("mlm", sequence) { TokenCount = rows * columns, RowCount = rows };
        batch.Metadata["seq_len"] = columns.ToString();
        Span<long> ids = batch.Add("input_ids", TensorDType.I64, [rows, columns]).AsSpan<long>();
        Span<bool> flags = batch.Add("flags", TensorDType.Bool, [rows]).AsSpan<bool>();
        Span<float> scores = batch.Add("scores", TensorDType.F32, [rows, 2]).AsSpan<float>();
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = (sequence * 1000) + i;
        }
        for (int i = 0; i < rows; i++)
        {
            flags[i] = i % 2 == 0;
            scores[2 * i] = i + 0.5f;
            scores[(2 * i) + 1] = -i;
        }
        return batch;
    }

    [Fact]
    public void TensorFrame_RoundTrip_KeepsNamesDtypesShapesBytesAndMetadata()
    {
        using TensorBatch original = MakeBatch(7);
        var buffer = new ArrayBufferWriter<byte>();
        TensorFrame.Write(original, buffer);
        byte[] frame = buffer.WrittenSpan.ToArray();

        ulong headerLength = BitConverter.ToUInt64(frame, 0);
        Assert.Equal(0UL, headerLength % 8);
        TensorFrame.Header header = TensorFrame.ParseHeader(frame.AsSpan(8, (int)headerLength), "test");
        using TensorBatch copy = TensorFrame.ToBatch(header, frame.AsSpan(8 + (int)headerLength));

        Assert.Equal(7, copy.Sequence);
        Assert.Equal("mlm", copy.Task);
        Assert.Equal(15, copy.TokenCount);
        Assert.Equal("5", copy.Metadata["seq_len"]);
        foreach (TensorBuffer tensor in original.Tensors)
        {
            Assert.True(copy.TryGet(tensor.Name, out TensorBuffer other));
            Assert.Equal(tensor.DType, other.DType);
            Assert.Equal(tensor.Shape, other.Shape);
            Assert.Equal(tensor.Bytes.ToArray(), other.Bytes.ToArray());
        }
        // Widest dtype first: every tensor starts aligned to its element size.
        Assert.All(header.Tensors, t => Assert.Equal(0, t.Start % TensorDTypes.SizeOf(t.DType)));
        Assert.Equal(frame.Length - 8 - (int)headerLength, header.DataLength);
    }

    [Fact]
    public void TensorFrame_CorruptHeader_FailsNamingTheProblem()
    {
        byte[] json = System.Text.Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[0,8]}}");
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => TensorFrame.ParseHeader(json, "frame 3"));
        Assert.Contains("frame 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("data_offsets", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamTransport_RoundTrip_DeliversEveryBatchThenEnds()
    {
        var pipe = new MemoryStream();
        await using (var writer = new StreamBatchWriter(pipe, "memory", leaveOpen: true))
        {
            for (int i = 0; i < 20; i++)
            {
                await writer.WriteAsync(MakeBatch(i));
            }
            await writer.CompleteAsync();
        }
        pipe.Position = 0;

        await using var reader = new StreamBatchReader(pipe, "memory");
        List<TensorBatch> batches = await Collect.AllAsync(reader.ReadAllAsync());

        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.Equal(19_000L, batches[19]["input_ids"].AsSpan<long>()[0]);
        batches.ForEach(b => b.Dispose());
    }

    /// <summary>
    /// A frames file that cannot be written (a full disk, here /dev/full; a missing folder) is the output failing,
    /// named as such — not a reader that left, which ends a pipe's stream early and successfully. Before, a frame
    /// larger than the file's buffer was taken for a closed pipe (the run ended 0 with the batches lost), and a small
    /// one failed as an input error.
    /// </summary>
    [SkippableTheory]
    [InlineData(8)] // frames within the file's 1 MiB buffer: the failure comes at the end
    [InlineData(512)] // a frame over 1 MiB: the failure comes at the first write
    public async Task StreamTransport_FileOnAFullDisk_IsAnOutputFailureNamingIt(int rows)
    {
        Skip.IfNot(File.Exists("/dev/full"), "/dev/full is Linux's always-full device; this machine has none.");
        await using StreamBatchWriter writer = FrameFileTransportKind.Create("/dev/full");

        OutputWriteException error = await Assert.ThrowsAsync<OutputWriteException>(async () =>
        {
            await writer.WriteAsync(MakeBatch(0, rows, 512));
            await writer.CompleteAsync();
            await writer.DisposeAsync();
        });

        Assert.Equal("/dev/full", error.Output);
        Assert.Contains("/dev/full: the output cannot be written", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamTransport_FileInAMissingFolder_IsAnOutputFailureNamingIt()
    {
        using var files = new TempFiles();
        string path = files.Path(Path.Combine("missing", "b.frames"));

        OutputWriteException error = Assert.Throws<OutputWriteException>(() => FrameFileTransportKind.Create(path));

        Assert.Equal(path, error.Output);
    }

    [Fact]
    public async Task StreamTransport_SenderDiesWithoutEndFrame_ReaderFailsInsteadOfEndingQuietly()
    {
        var pipe = new MemoryStream();
        var writer = new StreamBatchWriter(pipe, "memory", leaveOpen: true);
        for (int i = 0; i < 3; i++)
        {
            await writer.WriteAsync(MakeBatch(i));
        }
        pipe.Position = 0;

        await using var reader = new StreamBatchReader(pipe, "memory");
        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync()));
        Assert.Contains("after 3 batches without an end frame", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamTransport_TruncatedMidFrame_FailsWithOffset()
    {
        var pipe = new MemoryStream();
        var writer = new StreamBatchWriter(pipe, "memory", leaveOpen: true);
        await writer.WriteAsync(MakeBatch(0));
        await writer.WriteAsync(MakeBatch(1));
        byte[] bytes = pipe.ToArray();

        await using var reader = new StreamBatchReader(new MemoryStream(bytes[..(bytes.Length - 10)]), "memory");
        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync()));
        Assert.Contains("inside the data of the frame at byte", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamTransport_SenderError_ReachesTheReader()
    {
        var pipe = new MemoryStream();
        var writer = new StreamBatchWriter(pipe, "memory", leaveOpen: true);
        await writer.WriteAsync(MakeBatch(0));
        await writer.CompleteAsync(new InvalidDataException("dump.json.gz: line 9: truncated"));
        pipe.Position = 0;

        await using var reader = new StreamBatchReader(pipe, "memory");
        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync()));
        Assert.Contains("dump.json.gz: line 9: truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnixSocketTransport_RoundTrip()
    {
        using var files = new TempFiles();
        string location = "unix:" + files.Path("loader.sock");
        Task<StreamBatchWriter> accepting = UnixSocketTransportKind.ListenAsync(location);
        await using StreamBatchReader reader = await UnixSocketTransportKind.ConnectAsync(location, TimeSpan.FromSeconds(10));
        await using StreamBatchWriter writer = await accepting.WaitAsync(TimeSpan.FromSeconds(10));

        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        for (int i = 0; i < 50; i++)
        {
            await writer.WriteAsync(MakeBatch(i, rows: 64, columns: 128));
        }
        await writer.CompleteAsync();
        List<TensorBatch> batches = await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(50, batches.Count);
        batches.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task InProcessTransport_BoundedAndDrainsOnDispose()
    {
        (IBatchWriter writer, IBatchReader reader) = InProcessTransport.Create(capacity: 2);
        TensorBatch first = MakeBatch(0);
        TensorBatch second = MakeBatch(1);
        await writer.WriteAsync(first);
        await writer.WriteAsync(second);
        ValueTask third = writer.WriteAsync(MakeBatch(2));
        Assert.False(third.IsCompleted); // back-pressure: the channel is full

        await reader.DisposeAsync(); // drains the two queued batches: disposed, so their buffers are back in the pool
        Assert.Throws<ObjectDisposedException>(() => first.Add("probe", TensorDType.I64, [1]));
        Assert.Throws<ObjectDisposedException>(() => second.Add("probe", TensorDType.I64, [1]));
        await third.AsTask().WaitAsync(TimeSpan.FromSeconds(20)); // the drain made room: the blocked writer goes on
        await writer.CompleteAsync();
    }

    [SkippableFact]
    public async Task Frames_AreReadableFromPythonWithTheStandardLibraryOnly()
    {
        string? python = FindPython();
        Requirement.SkipIfMissing(python is null, "python3 is not installed; the Python reader check needs it.");
        using var files = new TempFiles();
        string path = files.Path("batches.frames");
        long expectedIds = 0;
        await using (StreamBatchWriter writer = FrameFileTransportKind.Create(path))
        {
            for (int i = 0; i < 4; i++)
            {
                TensorBatch batch = MakeBatch(i);
                foreach (long id in batch["input_ids"].AsSpan<long>())
                {
                    expectedIds += id;
                }
                await writer.WriteAsync(batch);
            }
            await writer.CompleteAsync();
        }

        string script = Path.Combine(SharedData.RepositoryRoot, "scripts", "read_frames.py");
        var start = new ProcessStartInfo(python!, ["-I", script, "--in", path, "--summary"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        string errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, errors);
        using JsonDocument summary = JsonDocument.Parse(output);
        Assert.Equal(4, summary.RootElement.GetProperty("batches").GetInt32());
        Assert.Equal(60, summary.RootElement.GetProperty("tokens").GetInt32());
        Assert.Equal(expectedIds, summary.RootElement.GetProperty("sums").GetProperty("input_ids").GetInt64());
        Assert.Equal(4 * (0.5 + 1.5 + 2.5 - 0 - 1 - 2), summary.RootElement.GetProperty("sums").GetProperty("scores").GetDouble(), 3);
        Assert.Equal([3, 5], summary.RootElement.GetProperty("shapes").GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    private static string? FindPython()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
        {
            string candidate = Path.Combine(dir, "python3");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
