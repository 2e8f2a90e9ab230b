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

    /// <summary>Serializes <paramref name="batch"/> into one frame.</summary>
    public static void Write(TensorBatch batch, IBufferWriter<byte> output)
    {
        TensorBuffer[] ordered = OrderForAlignment(batch.Tensors);
        var metadata = new Dictionary<string, string>(batch.Metadata, StringComparer.Ordinal)
        {
            ["task"] = batch.Task,
            ["sequence"] = batch.Sequence.ToString(CultureInfo.InvariantCulture),
            ["tokens"] = batch.TokenCount.ToString(CultureInfo.InvariantCulture),
            ["rows"] = batch.RowCount.ToString(CultureInfo.InvariantCulture),
        };
        WriteHeader(ordered, metadata, output);
        foreach (TensorBuffer tensor in ordered)
        {
            output.Write(tensor.Bytes);
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
        WriteHeader([], metadata, output);
    }

    // Widest element first; Enumerable.OrderBy is stable, so tensors of one width keep their order.
    private static TensorBuffer[] OrderForAlignment(IReadOnlyList<TensorBuffer> tensors) =>
        tensors.OrderByDescending(t => TensorDTypes.SizeOf(t.DType)).ToArray();

    private static void WriteHeader(IReadOnlyList<TensorBuffer> tensors, Dictionary<string, string> metadata, IBufferWriter<byte> output)
    {
        var json = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(json))
        {
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
            foreach (KeyValuePair<string, string> pair in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteString(pair.Key, pair.Value);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
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
    public sealed record Header(IReadOnlyList<TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataLength)
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
            long announced = long.Parse(Metadata.GetValueOrDefault("batches", "-1"), CultureInfo.InvariantCulture);
            if (announced != arrived)
            {
                throw new InvalidDataException($"{where}: the {sender} reports {announced} batches{announcedAs} but {arrived} arrived.");
            }
            return true;
        }
    }

    /// <summary>One tensor's entry in a header.</summary>
    public sealed record TensorInfo(string Name, TensorDType DType, int[] Shape, long Start, long End);

    /// <summary>Parses the JSON header (without the 8-byte length prefix). <paramref name="where"/> names the input in errors.</summary>
    public static Header ParseHeader(ReadOnlySpan<byte> json, string where)
    {
        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(json.TrimEnd((byte)' ').ToArray());
            long dataLength = 0;
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (JsonProperty entry in property.Value.EnumerateObject())
                    {
                        metadata[entry.Name] = entry.Value.GetString() ?? string.Empty;
                    }
                    continue;
                }
                string dtypeText = property.Value.GetProperty("dtype").GetString() ?? string.Empty;
                if (!TensorDTypes.TryParse(dtypeText, out TensorDType dtype))
                {
                    throw new InvalidDataException($"{where}: tensor '{property.Name}' has unknown dtype '{dtypeText}'.");
                }
                int[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                long[] offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long elements = shape.Aggregate(1L, (a, b) => a * b);
                if (offsets.Length != 2 || offsets[1] - offsets[0] != elements * TensorDTypes.SizeOf(dtype) || offsets[0] < 0)
                {
                    throw new InvalidDataException($"{where}: tensor '{property.Name}' has data_offsets [{string.Join(", ", offsets)}] that do not fit its shape [{string.Join(", ", shape)}] and dtype {dtypeText}.");
                }
                tensors.Add(new TensorInfo(property.Name, dtype, shape, offsets[0], offsets[1]));
                dataLength = Math.Max(dataLength, offsets[1]);
            }
            return new Header(tensors, metadata, dataLength);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{where}: the frame header is not valid safetensors JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Builds a batch from a parsed header and its data bytes (copied into pooled buffers).</summary>
    public static TensorBatch ToBatch(Header header, ReadOnlySpan<byte> data)
    {
        header.Metadata.TryGetValue("task", out string? task);
        long sequence = header.Metadata.TryGetValue("sequence", out string? seq) && long.TryParse(seq, CultureInfo.InvariantCulture, out long s) ? s : -1;
        var batch = new TensorBatch(task ?? "unknown", sequence);
        try
        {
            foreach (KeyValuePair<string, string> pair in header.Metadata)
            {
                if (pair.Key is not ("task" or "sequence" or "tokens" or "rows"))
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
            foreach (TensorInfo info in header.Tensors)
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
