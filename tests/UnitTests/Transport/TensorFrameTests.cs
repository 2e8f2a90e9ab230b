using System.Buffers;
using System.Text;
using StreamLoader.Core.Tensors;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Tests.Transport;

/// <summary>The wire frame's header: its exact bytes (what Python clients parse), and headers it must refuse.</summary>
public sealed class TensorFrameTests
{
    private static TensorBatch MakeBatch(long sequence)
    {
        var batch = new TensorBatch("mlm", sequence) { TokenCount = 15, RowCount = 3 };
        batch.Metadata["seq_len"] = "5";
        batch.Metadata["tokenizer"] = "wordpiece:vocab-é.txt";
        batch.Add("input_ids", TensorDType.I64, [3, 5]).AsSpan<long>().Fill(sequence);
        batch.Add("flags", TensorDType.Bool, [3]);
        batch.Add("scores", TensorDType.F32, [3, 2]).AsSpan<float>().Fill(0.5f);
        return batch;
    }

    private static (string Header, byte[] Frame) Encode(TensorBatch batch)
    {
        var output = new ArrayBufferWriter<byte>();
        TensorFrame.Write(batch, output);
        byte[] frame = output.WrittenSpan.ToArray();
        int length = (int)BitConverter.ToUInt64(frame, 0);
        return (Encoding.UTF8.GetString(frame, 8, length), frame);
    }

    [Fact]
    public void Write_Header_IsTheDocumentedSafetensorsJson()
    {
        using TensorBatch batch = MakeBatch(7);

        (string header, byte[] frame) = Encode(batch);

        // Widest dtype first (stable among equals), metadata keys in ordinal order, the batch's own fields among
        // them, non-ASCII escaped as JSON escapes it, then spaces to a multiple of 8 bytes (docs/WIRE.md).
        const string Expected = "{\"input_ids\":{\"dtype\":\"I64\",\"shape\":[3,5],\"data_offsets\":[0,120]}," +
            "\"scores\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[120,144]}," +
            "\"flags\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[144,147]}," +
            "\"__metadata__\":{\"rows\":\"3\",\"seq_len\":\"5\",\"sequence\":\"7\",\"task\":\"mlm\",\"tokenizer\":\"wordpiece:vocab-\\u00E9.txt\",\"tokens\":\"15\"}}";
        Assert.Equal(Expected, header.TrimEnd(' '));
        Assert.Equal(0, header.Length % 8);
        Assert.Equal(8 + header.Length + 147, frame.Length);
    }

    [Fact]
    public void Write_MetadataNamedLikeTheBatchFields_TheFieldsWin()
    {
        using TensorBatch batch = MakeBatch(9);
        batch.Metadata["sequence"] = "stale";
        batch.Metadata["task"] = "other";

        (string header, _) = Encode(batch);

        Assert.Contains("\"sequence\":\"9\"", header, StringComparison.Ordinal);
        Assert.Contains("\"task\":\"mlm\"", header, StringComparison.Ordinal);
        Assert.DoesNotContain("stale", header, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_ManyThreadsAtOnce_EachFrameDecodesToItsOwnBatch()
    {
        // The header scratch is per thread: frames written concurrently must not mix.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                long sequence = (t * 1000) + i;
                using TensorBatch batch = MakeBatch(sequence);
                (string header, byte[] frame) = Encode(batch);
                TensorFrame.Header parsed = TensorFrame.ParseHeader(Encoding.UTF8.GetBytes(header), "test");
                using TensorBatch copy = TensorFrame.ToBatch(parsed, frame.AsSpan(8 + header.Length));
                Assert.Equal(sequence, copy.Sequence);
                Assert.True(copy.TryGet("input_ids", out TensorBuffer ids));
                Assert.All(ids.AsSpan<long>().ToArray(), v => Assert.Equal(sequence, v));
                Assert.Equal("wordpiece:vocab-é.txt", copy.Metadata["tokenizer"]);
            }
        })));
    }

    [Fact]
    public void ParseHeader_EscapedAndNonAsciiStrings_DecodeAsJsonSaysTheyDo()
    {
        byte[] json = Encoding.UTF8.GetBytes("{\"a\\u0062\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"k\\n\":\"v\\u00e9\",\"name\":\"caf\u00e9\"}}   ");

        TensorFrame.Header header = TensorFrame.ParseHeader(json, "test");

        SafeTensorsHeader.TensorInfo tensor = Assert.Single(header.Tensors);
        Assert.Equal("ab", tensor.Name);
        Assert.Equal([2], tensor.Shape);
        Assert.Equal("vé", header.Metadata["k\n"]);
        Assert.Equal("café", header.Metadata["name"]);
        Assert.Equal(8, header.DataLength);
    }

    [Fact]
    public void RoundTrip_TensorOfNineDimensionsAndEmptyMetadataValue_ComesBackWhole()
    {
        using var batch = new TensorBatch("clm", 3) { TokenCount = 0, RowCount = 1 };
        batch.Metadata["note"] = string.Empty;
        int[] shape = [1, 2, 1, 2, 1, 2, 1, 2, 3];
        Span<short> values = batch.Add("deep", TensorDType.I16, shape).AsSpan<short>();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (short)(i * 7);
        }

        (string header, byte[] frame) = Encode(batch);
        TensorFrame.Header parsed = TensorFrame.ParseHeader(Encoding.UTF8.GetBytes(header), "test");
        using TensorBatch copy = TensorFrame.ToBatch(parsed, frame.AsSpan(8 + header.Length));

        Assert.Equal(shape, Assert.Single(parsed.Tensors).Shape);
        Assert.Equal(string.Empty, copy.Metadata["note"]);
        Assert.Equal(values.ToArray(), copy["deep"].AsSpan<short>().ToArray());
    }

    [Theory]
    [InlineData("not json", "not valid safetensors JSON")]
    [InlineData("{\"x\":{\"dtype\":\"I64\",\"shape\":[2]", "not valid safetensors JSON")]
    [InlineData("{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,16]}}", "unknown dtype 'Q7'")]
    [InlineData("{\"x\":{\"dtype\":\"I64\",\"data_offsets\":[0,16]}}", "lacks shape")]
    [InlineData("{\"x\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", "do not fit its shape [2]")]
    [InlineData("{\"x\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16]}}", "data_offsets with 1 values")]
    [InlineData("{\"__metadata__\":{\"rows\":3}}", "__metadata__.rows")]
    [InlineData("[1,2]", "not valid safetensors JSON")]
    [InlineData("{\"x\":3}", "tensor 'x'")]
    [InlineData("{\"__metadata__\":{}} {\"x\":1}", "not valid safetensors JSON")]
    public void ParseHeader_BadHeader_FailsNamingTheFrameAndTheProblem(string json, string expected)
    {
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => TensorFrame.ParseHeader(Encoding.UTF8.GetBytes(json), "pipe: frame at byte 4096"));

        Assert.Contains("pipe: frame at byte 4096", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    /// <summary>A frame of one tensor with the given header entry and <paramref name="dataBytes"/> bytes of data after it.</summary>
    private static byte[] Forged(string tensor, int dataBytes = 16)
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"x\":" + tensor + ",\"__metadata__\":{\"task\":\"mlm\",\"sequence\":\"0\"}}");
        var frame = new byte[8 + header.Length + dataBytes];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(frame, header.Length);
        header.CopyTo(frame, 8);
        return frame;
    }

    /// <summary>
    /// A sender's numbers never size a reader's memory: a header claiming 2^40 bytes, a tensor of 2^31 elements, a
    /// shape whose product wraps around, a negative dimension — each is refused with a message before any allocation,
    /// from one frame (ZeroMQ) and from a stream of frames (a pipe).
    /// </summary>
    [Theory]
    [InlineData("""{"dtype":"U8","shape":[1048576,1048576],"data_offsets":[0,1099511627776]}""", "describes 1099511627776 bytes of tensor data, but the frame carries 16")]
    [InlineData("""{"dtype":"I64","shape":[2147483647,1],"data_offsets":[0,17179869176]}""", "describes 17179869176 bytes of tensor data")]
    [InlineData("""{"dtype":"I64","shape":[2147483647,2147483647,2147483647,4],"data_offsets":[0,16]}""", "of more bytes than any file or frame holds")]
    [InlineData("""{"dtype":"I64","shape":[-1,-2],"data_offsets":[0,16]}""", "has a negative dimension")]
    public async Task ForgedSizes_AreRefusedBeforeAnyAllocation(string tensor, string expected)
    {
        byte[] frame = Forged(tensor);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var single = Assert.Throws<InvalidDataException>(() => TensorFrame.Decode(frame, "peer", out _));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        await using var pipe = new StreamLoader.Transport.Streams.StreamBatchReader(new MemoryStream(frame), "pipe");
        var streamed = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (TensorBatch batch in pipe.ReadAllAsync())
            {
                batch.Dispose();
            }
        });

        Assert.Contains(expected, single.Message, StringComparison.Ordinal);
        Assert.StartsWith("peer", single.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"refusing the frame allocated {allocated:N0} bytes");
        Assert.Contains(expected.Replace(", but the frame carries 16", string.Empty, StringComparison.Ordinal), streamed.Message, StringComparison.Ordinal);
    }

    /// <summary>Ten thousand metadata keys in one header: read, within the header's bound (the 64 MiB a header may have).</summary>
    [Fact]
    public void TenThousandMetadataKeys_AreReadWithinTheHeadersBound()
    {
        var batch = new TensorBatch("mlm", 1);
        batch.Add("input_ids", TensorDType.I64, [1, 2]).AsSpan<long>().Fill(3);
        for (int i = 0; i < 10_000; i++)
        {
            batch.Metadata[$"key{i}"] = "value";
        }
        (_, byte[] frame) = Encode(batch);

        TensorFrame.Header header = TensorFrame.Decode(frame, "peer", out ReadOnlySpan<byte> data);
        using TensorBatch read = TensorFrame.ToBatch(header, data);

        Assert.Equal("value", read.Metadata["key9999"]);
        Assert.True(frame.Length < TensorFrame.MaxHeaderBytes);
        byte[] claimed = [.. frame];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(claimed, TensorFrame.MaxHeaderBytes + 1L);
        Assert.Contains("a header may have at most 67108864", Assert.Throws<InvalidDataException>(() => TensorFrame.Decode(claimed, "peer", out _)).Message, StringComparison.Ordinal);
    }

    /// <summary>Found by the fuzzer (2,000,000 iterations, seed 5): an end frame whose batch count is not a number was a FormatException.</summary>
    [Fact]
    public async Task EndFrameWithABadCount_IsRefusedWithAMessage()
    {
        var end = new ArrayBufferWriter<byte>();
        TensorFrame.WriteEnd(0, null, end);
        byte[] frame = end.WrittenSpan.ToArray();
        int at = Encoding.ASCII.GetString(frame).IndexOf("\"batches\":\"0\"", StringComparison.Ordinal) + "\"batches\":\"".Length;
        frame[at] = (byte)'#';
        await using var pipe = new StreamLoader.Transport.Streams.StreamBatchReader(new MemoryStream(frame), "pipe");

        var error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (TensorBatch batch in pipe.ReadAllAsync())
            {
                batch.Dispose();
            }
        });

        Assert.Contains("end frame gives its batch count as '#', not a number", error.Message, StringComparison.Ordinal);
    }
}
