using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Tensors;

namespace StreamLoader.Transport.Framing;

/// <summary>
/// The wire frame: one batch in the safetensors layout, so Python reads it with <c>json</c> and <c>torch.frombuffer</c>
/// (or <c>safetensors.torch.load</c>) and nothing else.
/// </summary>
/// <remarks>
/// <para>Layout: an 8-byte little-endian header length N; N bytes of UTF-8 JSON, space-padded to a multiple of 8,
/// mapping each tensor name to <c>{"dtype","shape","data_offsets"}</c> plus a <c>__metadata__</c> object of strings;
/// then the tensors' little-endian bytes, contiguous. Tensors are written widest dtype first, so every tensor starts
/// aligned to its element size.</para>
/// <para>A stream of frames ends with a frame that has no tensors and <c>__metadata__.stream</c> = <c>end</c> (with
/// the batch count, so a reader can tell a clean end from a lost tail) or <c>error</c> (with the sender's message).</para>
/// </remarks>
public static class TensorFrame
{
    /// <summary>Metadata key of control frames.</summary>
    public const string StreamKey = "stream";

    /// <summary>Largest header accepted when reading, a guard against reading garbage as a length.</summary>
    public const int MaxHeaderBytes = 64 << 20;

    /// <summary>
    /// Most tensor bytes one frame may carry when read (1 GiB; a batch of 256 rows of 8,192 tokens is 16 MiB a tensor).
    /// A header that claims more is refused before anything is allocated: a sender's numbers never size a reader's memory.
    /// </summary>
    public const long MaxDataBytes = 1L << 30;

    /// <summary>
    /// Splits one whole frame (its 8-byte header length, the header, the tensor data) and parses its header, checking
    /// every length against the bytes there before anything is allocated. Errors are <see cref="InvalidDataException"/>s
    /// naming <paramref name="where"/>.
    /// </summary>
    public static Header Decode(ReadOnlySpan<byte> frame, string where, out ReadOnlySpan<byte> data)
    {
        if (frame.Length < 8)
        {
            throw new InvalidDataException($"{where}: a frame of {frame.Length} bytes; a frame starts with its 8-byte header length.");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(frame);
        if (headerLength == 0 || headerLength > MaxHeaderBytes || headerLength > (ulong)(frame.Length - 8))
        {
            throw new InvalidDataException($"{where}: the frame's header length is {headerLength} bytes, but the frame has {frame.Length - 8} after it (and a header may have at most {MaxHeaderBytes}).");
        }
        Header header = ParseHeader(frame.Slice(8, (int)headerLength), where);
        data = frame[(8 + (int)headerLength)..];
        CheckData(header, data.Length, where);
        return header;
    }

    /// <summary>Throws unless the tensor data <paramref name="header"/> describes is at most <see cref="MaxDataBytes"/> and <paramref name="available"/> bytes.</summary>
    public static void CheckData(Header header, long available, string where)
    {
        if (header.DataLength > MaxDataBytes || header.DataLength > available)
        {
            throw new InvalidDataException($"{where}: the header describes {header.DataLength} bytes of tensor data, but the frame carries {available} (and a frame may carry at most {MaxDataBytes}).");
        }
    }

    /// <summary>Serializes <paramref name="batch"/> into one frame.</summary>
    /// <remarks>
    /// The header is built in a per-thread scratch buffer, the tensors ordered and the metadata sorted in pooled
    /// arrays: a frame allocates next to nothing beyond its numbers' text, on every batch of a cross-process run.
    /// </remarks>
    public static void Write(TensorBatch batch, IBufferWriter<byte> output)
    {
        IReadOnlyList<TensorBuffer> tensors = batch.Tensors;
        TensorBuffer[] ordered = ArrayPool<TensorBuffer>.Shared.Rent(tensors.Count);
        KeyValuePair<string, string>[] metadata = ArrayPool<KeyValuePair<string, string>>.Shared.Rent(batch.Metadata.Count + 4);
        try
        {
            int count = OrderForAlignment(tensors, ordered);
            int entries = 0;
            foreach (KeyValuePair<string, string> pair in batch.Metadata)
            {
                if (!IsBatchField(pair.Key))
                {
                    metadata[entries++] = pair;
                }
            }
            metadata[entries++] = new("task", batch.Task);
            metadata[entries++] = new("sequence", MetadataText.Of(batch.Sequence));
            metadata[entries++] = new("tokens", MetadataText.Of(batch.TokenCount));
            metadata[entries++] = new("rows", MetadataText.Of(batch.RowCount));
            WriteHeader(ordered.AsSpan(0, count), metadata.AsSpan(0, entries), output);
            for (int i = 0; i < count; i++)
            {
                output.Write(ordered[i].Bytes);
            }
        }
        finally
        {
            ArrayPool<TensorBuffer>.Shared.Return(ordered, clearArray: true);
            ArrayPool<KeyValuePair<string, string>>.Shared.Return(metadata, clearArray: true);
        }
    }

    /// <summary>Writes the frame that ends a stream: cleanly after <paramref name="batches"/> batches, or with an error.</summary>
    /// <param name="batches">Batches this reader was sent (and, over ZeroMQ, acknowledged).</param>
    /// <param name="error">The sender's error, or null for a clean end.</param>
    /// <param name="output">Where the frame goes.</param>
    /// <param name="extra">More metadata (ZeroMQ: the stream's totals over all consumers).</param>
    public static void WriteEnd(long batches, string? error, IBufferWriter<byte> output, IReadOnlyDictionary<string, string>? extra = null)
    {
        var metadata = new Dictionary<string, string>(extra ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [StreamKey] = error is null ? "end" : "error",
            ["batches"] = batches.ToString(CultureInfo.InvariantCulture),
        };
        if (error is not null)
        {
            metadata["message"] = error;
        }
        WriteHeader([], metadata.ToArray(), output);
    }

    // The batch's own fields, which the header's metadata carries under these names (and the batch's metadata may not).
    private static bool IsBatchField(string key) => key is "task" or "sequence" or "tokens" or "rows";

    // Widest element first, and stable, so tensors of one width keep their order (an insertion sort: a batch has a
    // handful of tensors).
    private static int OrderForAlignment(IReadOnlyList<TensorBuffer> tensors, TensorBuffer[] ordered)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            TensorBuffer tensor = tensors[i];
            int size = TensorDTypes.SizeOf(tensor.DType);
            int at = i;
            while (at > 0 && TensorDTypes.SizeOf(ordered[at - 1].DType) < size)
            {
                ordered[at] = ordered[at - 1];
                at--;
            }
            ordered[at] = tensor;
        }
        return tensors.Count;
    }

    /// <summary>A thread's buffer and writer for headers, reused from frame to frame.</summary>
    private sealed class HeaderScratch
    {
        public HeaderScratch()
        {
            Writer = new Utf8JsonWriter(Json);
        }

        public ArrayBufferWriter<byte> Json { get; } = new(1024);

        public Utf8JsonWriter Writer { get; }
    }

    [ThreadStatic]
    private static HeaderScratch? t_scratch;

    private static void WriteHeader(ReadOnlySpan<TensorBuffer> tensors, Span<KeyValuePair<string, string>> metadata, IBufferWriter<byte> output)
    {
        HeaderScratch scratch = t_scratch ??= new HeaderScratch();
        ArrayBufferWriter<byte> json = scratch.Json;
        json.ResetWrittenCount();
        Utf8JsonWriter writer = scratch.Writer;
        writer.Reset(json);
        metadata.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        writer.WriteStartObject();
        long offset = 0;
        foreach (TensorBuffer tensor in tensors)
        {
            writer.WriteStartObject(tensor.Name);
            writer.WriteString("dtype", TensorDTypes.WireName(tensor.DType));
            writer.WriteStartArray("shape");
            foreach (int dim in tensor.Shape)
            {
                writer.WriteNumberValue(dim);
            }
            writer.WriteEndArray();
            writer.WriteStartArray("data_offsets");
            writer.WriteNumberValue(offset);
            writer.WriteNumberValue(offset + tensor.ByteLength);
            writer.WriteEndArray();
            writer.WriteEndObject();
            offset += tensor.ByteLength;
        }
        writer.WriteStartObject("__metadata__");
        foreach (KeyValuePair<string, string> pair in metadata)
        {
            writer.WriteString(pair.Key, pair.Value);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();
        int padded = (json.WrittenCount + 7) & ~7;
        Span<byte> prefix = output.GetSpan(8);
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        output.Advance(8);
        output.Write(json.WrittenSpan);
        int padding = padded - json.WrittenCount;
        if (padding > 0)
        {
            Span<byte> spaces = output.GetSpan(padding)[..padding];
            spaces.Fill((byte)' ');
            output.Advance(padding);
        }
    }

    /// <summary>The parsed header of a frame: its tensors' descriptions and metadata, and how many data bytes follow.</summary>
    public sealed record Header(IReadOnlyList<SafeTensorsHeader.TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataLength)
    {
        /// <summary>True for the frame that ends a stream cleanly.</summary>
        public bool IsEnd => Metadata.TryGetValue(StreamKey, out string? v) && v == "end";

        /// <summary>True for a frame that carries the sender's error.</summary>
        public bool IsError => Metadata.TryGetValue(StreamKey, out string? v) && v == "error";

        /// <summary>
        /// For a reader that has had <paramref name="arrived"/> batches: throws the sender's error for an error frame, and
        /// for an end frame checks that the count it announces is what arrived. True for an end frame, false for a batch.
        /// </summary>
        /// <param name="where">The reader, for messages.</param>
        /// <param name="sender">What the other end is called in messages ("sender", "loader").</param>
        /// <param name="announcedAs">How the announced count reads after "batches" (" sent here" where several readers share a sender).</param>
        /// <param name="arrived">Batches this reader has had.</param>
        public bool CheckEnd(string where, string sender, string announcedAs, long arrived)
        {
            if (IsError)
            {
                throw new IOException($"{where}: the {sender} failed after {arrived} batches: {Metadata.GetValueOrDefault("message")}");
            }
            if (!IsEnd)
            {
                return false;
            }
            string count = Metadata.GetValueOrDefault("batches", "-1");
            if (!long.TryParse(count, NumberStyles.Integer, CultureInfo.InvariantCulture, out long announced))
            {
                throw new InvalidDataException($"{where}: the {sender}'s end frame gives its batch count as '{(count.Length > 32 ? count[..32] + "…" : count)}', not a number.");
            }
            if (announced != arrived)
            {
                throw new InvalidDataException($"{where}: the {sender} reports {announced} batches{announcedAs} but {arrived} arrived.");
            }
            return true;
        }
    }

    /// <summary>Parses the JSON header (without the 8-byte length prefix). <paramref name="where"/> names the input in errors.</summary>
    public static Header ParseHeader(ReadOnlySpan<byte> json, string where)
    {
        SafeTensorsHeader parsed = SafeTensorsHeader.Parse(json, where);
        return new Header(parsed.Tensors, parsed.Metadata, parsed.DataLength);
    }

    /// <summary>Builds a batch from a parsed header and its data bytes (copied into pooled buffers).</summary>
    public static TensorBatch ToBatch(Header header, ReadOnlySpan<byte> data)
    {
        CheckData(header, data.Length, "a frame");
        header.Metadata.TryGetValue("task", out string? task);
        long sequence = header.Metadata.TryGetValue("sequence", out string? seq) && long.TryParse(seq, CultureInfo.InvariantCulture, out long s) ? s : -1;
        var batch = new TensorBatch(task ?? "unknown", sequence);
        try
        {
            foreach (KeyValuePair<string, string> pair in header.Metadata)
            {
                if (!IsBatchField(pair.Key))
                {
                    batch.Metadata[pair.Key] = pair.Value;
                }
            }
            if (header.Metadata.TryGetValue("tokens", out string? tokens) && long.TryParse(tokens, CultureInfo.InvariantCulture, out long t))
            {
                batch.TokenCount = t;
            }
            if (header.Metadata.TryGetValue("rows", out string? rows) && int.TryParse(rows, CultureInfo.InvariantCulture, out int r))
            {
                batch.RowCount = r;
            }
            foreach (SafeTensorsHeader.TensorInfo info in header.Tensors)
            {
                TensorBuffer tensor = batch.Add(info.Name, info.DType, info.Shape, clear: false);
                data[(int)info.Start..(int)info.End].CopyTo(tensor.Bytes);
            }
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }
}
