using System.Text.Json;

namespace StreamLoader.Core.Tensors;

/// <summary>
/// The JSON header of the safetensors layout: each tensor's name, dtype, shape and byte range, and a
/// <c>__metadata__</c> object of strings. The wire frame (one batch) and model weight files (<c>model.safetensors</c>)
/// share it, so both are read by one parser that checks every range against its shape and dtype.
/// </summary>
/// <param name="Tensors">The tensors in header order.</param>
/// <param name="Metadata">The <c>__metadata__</c> strings.</param>
/// <param name="DataLength">Bytes of tensor data the header accounts for (the end of the last range).</param>
public sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorsHeader.TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataLength)
{
    /// <summary>One tensor's entry in a header.</summary>
    public sealed record TensorInfo(string Name, TensorDType DType, int[] Shape, long Start, long End);

    /// <summary>Parses the JSON header (without the 8-byte length prefix). <paramref name="where"/> names the input in errors.</summary>
    /// <remarks>Sized for a batch's few tensors by default; a model file's hundreds grow the list as they come.</remarks>
    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> json, string where)
    {
        // Sized for a task's batch (a handful of tensors, a dozen metadata entries), so neither grows on the way.
        var tensors = new List<TensorInfo>(8);
        var metadata = new Dictionary<string, string>(16, StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json.TrimEnd((byte)' '));
            Expect(ref reader, JsonTokenType.StartObject, "the header");
            long dataLength = 0;
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("__metadata__"u8))
                {
                    Expect(ref reader, JsonTokenType.StartObject, "__metadata__");
                    while (Next(ref reader) == JsonTokenType.PropertyName)
                    {
                        string key = FrameStrings.Get(ref reader);
                        Expect(ref reader, JsonTokenType.String, "__metadata__.", key);
                        metadata[key] = FrameStrings.Get(ref reader);
                    }
                    continue;
                }
                TensorInfo tensor = ReadTensor(ref reader, FrameStrings.Get(ref reader), where);
                tensors.Add(tensor);
                dataLength = Math.Max(dataLength, tensor.End);
            }
            if (reader.TokenType != JsonTokenType.EndObject)
            {
                throw new JsonException($"expected a property name or the header's end, found {reader.TokenType}");
            }
            if (reader.Read())
            {
                throw new JsonException($"more JSON after the header's object, at byte {reader.TokenStartIndex}");
            }
            return new SafeTensorsHeader(tensors, metadata, dataLength);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{where}: the header is not valid safetensors JSON: {ex.Message}", ex);
        }
    }

    private static TensorInfo ReadTensor(ref Utf8JsonReader reader, string name, string where)
    {
        Expect(ref reader, JsonTokenType.StartObject, "tensor '", name, "'");
        string? dtypeText = null;
        int[]? shape = null;
        long start = -1, end = -1;
        int offsets = 0;
        Span<int> dims = stackalloc int[8];
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("dtype"u8))
            {
                Expect(ref reader, JsonTokenType.String, "tensor '", name, "' dtype");
                dtypeText = FrameStrings.Get(ref reader);
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray, "tensor '", name, "' shape");
                int rank = 0;
                List<int>? more = null;
                while (Next(ref reader) == JsonTokenType.Number)
                {
                    int dim = reader.GetInt32();
                    if (rank < dims.Length)
                    {
                        dims[rank] = dim;
                    }
                    else
                    {
                        (more ??= [.. dims]).Add(dim);
                    }
                    rank++;
                }
                shape = more is not null ? [.. more] : dims[..rank].ToArray();
            }
            else if (reader.ValueTextEquals("data_offsets"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray, "tensor '", name, "' data_offsets");
                while (Next(ref reader) == JsonTokenType.Number)
                {
                    long value = reader.GetInt64();
                    (start, end) = offsets == 0 ? (value, end) : (start, value);
                    offsets++;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (dtypeText is null || shape is null || offsets == 0)
        {
            throw new JsonException($"tensor '{name}' lacks {(dtypeText is null ? "dtype" : shape is null ? "shape" : "data_offsets")}");
        }
        if (!TensorDTypes.TryParse(dtypeText, out TensorDType dtype))
        {
            throw new InvalidDataException($"{where}: tensor '{name}' has unknown dtype '{dtypeText}'.");
        }
        // A peer's numbers: no negative dimension, and a product that does not wrap around into a small, valid-looking size.
        long bytes = TensorDTypes.SizeOf(dtype);
        foreach (int dim in shape)
        {
            if (dim < 0)
            {
                throw new InvalidDataException($"{where}: tensor '{name}' has a negative dimension in its shape [{string.Join(", ", shape)}].");
            }
            bytes = bytes == 0 || dim <= long.MaxValue / bytes ? bytes * dim
                : throw new InvalidDataException($"{where}: tensor '{name}' has a shape [{string.Join(", ", shape)}] of more bytes than any file or frame holds.");
        }
        if (offsets != 2 || start < 0 || end - start != bytes)
        {
            string given = offsets == 2 ? $"[{start}, {end}]" : $"with {offsets} values";
            throw new InvalidDataException($"{where}: tensor '{name}' has data_offsets {given} that do not fit its shape [{string.Join(", ", shape)}] and dtype {dtypeText}.");
        }
        return new TensorInfo(name, dtype, shape, start, end);
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("the header ends early");

    // What is expected comes in parts (before, a name, after), so that nothing is formatted unless the header is bad.
    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what, string? name = null, string? after = null)
    {
        if (Next(ref reader) != type)
        {
            throw new JsonException($"expected {type} for {what}{name}{after}, found {reader.TokenType}");
        }
    }

    /// <summary>
    /// Strings of headers (tensor names, metadata keys, the run's constant values) made once and handed out again: a
    /// small direct-mapped table keyed by their bytes, so decoding a frame does not make the same strings per batch.
    /// </summary>
    private static class FrameStrings
    {
        private const int Slots = 256;
        private const int MaxCachedBytes = 64;
        private static readonly string?[] s_slots = new string?[Slots];

        public static string Get(ref Utf8JsonReader reader)
        {
            ReadOnlySpan<byte> raw = reader.ValueSpan;
            if (reader.ValueIsEscaped || reader.HasValueSequence || raw.Length > MaxCachedBytes || !System.Text.Ascii.IsValid(raw))
            {
                return reader.GetString() ?? string.Empty;
            }
            uint hash = 2166136261;
            foreach (byte b in raw)
            {
                hash = (hash ^ b) * 16777619;
            }
            ref string? slot = ref s_slots[hash % Slots];
            string? cached = Volatile.Read(ref slot);
            if (cached is not null && System.Text.Ascii.Equals(raw, cached))
            {
                return cached;
            }
            string made = System.Text.Encoding.ASCII.GetString(raw);
            Volatile.Write(ref slot, made);
            return made;
        }
    }

}
