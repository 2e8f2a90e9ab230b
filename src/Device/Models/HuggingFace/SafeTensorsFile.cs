using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using StreamLoader.Core.Tensors;
using StreamLoader.Device.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A <c>.safetensors</c> weight file, memory-mapped: the header is parsed once (by the parser the wire frame uses), and
/// each tensor is read straight from the mapped pages into the tensor that keeps it, so a multi-gigabyte file is
/// never held twice in memory.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>A header larger than this is not a safetensors header (the format caps it at 100 MB).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private readonly MemoryMappedFile _map;
    private readonly Dictionary<string, SafeTensorsHeader.TensorInfo> _byName;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, MemoryMappedFile map, SafeTensorsHeader header, long dataStart)
    {
        Path = path;
        _map = map;
        Header = header;
        _dataStart = dataStart;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The parsed header.</summary>
    public SafeTensorsHeader Header { get; }

    /// <summary>The tensors' names, in header order.</summary>
    public IEnumerable<string> Names => Header.Tensors.Select(t => t.Name);

    /// <summary>Opens and checks <paramref name="path"/>: the header's length, its JSON, and that its ranges fit the file.</summary>
    public static SafeTensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"{path}: no such safetensors file.", path);
        }
        if (info.Length < 8)
        {
            throw new InvalidDataException($"{path}: {info.Length} bytes is too short for a safetensors file (an 8-byte header length, then the header).");
        }
        byte[] prefix = new byte[8];
        FileStream stream = File.OpenRead(path);
        try
        {
            stream.ReadExactly(prefix);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > (ulong)Math.Min(MaxHeaderBytes, info.Length - 8))
            {
                throw new InvalidDataException($"{path}: the header length at offset 0 is {headerLength} bytes, more than the file's {info.Length - 8} after it (or the format's {MaxHeaderBytes} limit); not a safetensors file, or a truncated one.");
            }
            byte[] json = new byte[headerLength];
            stream.ReadExactly(json);
            SafeTensorsHeader header = SafeTensorsHeader.Parse(json, path);
            long dataStart = 8 + (long)headerLength;
            if (dataStart + header.DataLength > info.Length)
            {
                throw new InvalidDataException($"{path}: the header describes {header.DataLength:N0} bytes of tensors from offset {dataStart:N0}, but the file ends at {info.Length:N0}: it is truncated.");
            }
            // The map owns the stream from here (leaveOpen: false) and closes it when disposed.
            MemoryMappedFile map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            return new SafeTensorsFile(path, map, header, dataStart);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>True when the file holds <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry for <paramref name="name"/>.</summary>
    public SafeTensorsHeader.TensorInfo Describe(string name) =>
        _byName.TryGetValue(name, out SafeTensorsHeader.TensorInfo? info) ? info : throw new KeyNotFoundException($"{Path}: no tensor '{name}'.");

    /// <summary>
    /// Reads <paramref name="name"/> into a new CPU tensor, converted to <paramref name="dtype"/> when given (a float16 or
    /// bfloat16 checkpoint into float32 training, say).
    /// </summary>
    public Tensor Load(string name, ScalarType? dtype = null)
    {
        SafeTensorsHeader.TensorInfo info = Describe(name);
        ScalarType stored = DeviceBatch.ToScalarType(info.DType);
        Tensor tensor = empty(Array.ConvertAll(info.Shape, d => (long)d), stored);
        long length = info.End - info.Start;
        if (length > 0)
        {
            using MemoryMappedViewStream view = _map.CreateViewStream(_dataStart + info.Start, length, MemoryMappedFileAccess.Read);
            Span<byte> target = tensor.bytes;
            // One pass from the mapped pages into the tensor's storage, in pieces a span can address.
            for (int at = 0; at < target.Length;)
            {
                int chunk = Math.Min(target.Length - at, 1 << 30);
                view.ReadExactly(target.Slice(at, chunk));
                at += chunk;
            }
        }
        if (dtype is { } wanted && wanted != stored)
        {
            using (tensor)
            {
                return tensor.to_type(wanted);
            }
        }
        return tensor;
    }

    public void Dispose() => _map.Dispose();
}

/// <summary>Writes tensors as one <c>.safetensors</c> file, in the layout <see cref="SafeTensorsFile"/> and Python's <c>safetensors</c> read.</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (name order, contiguous CPU copies made one at a time) with
    /// <paramref name="metadata"/> (<c>{"format": "pt"}</c> when null, as <c>save_file</c> writes it).
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        using var header = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (KeyValuePair<string, string> pair in metadata ?? new Dictionary<string, string> { ["format"] = "pt" })
            {
                json.WriteString(pair.Key, pair.Value);
            }
            json.WriteEndObject();
            long offset = 0;
            foreach ((string name, Tensor tensor) in ordered)
            {
                long bytes = tensor.numel() * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", TensorDTypes.WireName(ToDType(tensor.dtype)));
                json.WriteStartArray("shape");
                foreach (long dim in tensor.shape)
                {
                    json.WriteNumberValue(dim);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        long padded = (header.Length + 7) & ~7L;
        while (header.Length < padded)
        {
            header.WriteByte((byte)' ');
        }
        string temporary = path + ".partial";
        using (FileStream file = File.Create(temporary))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            file.Write(prefix);
            header.Position = 0;
            header.CopyTo(file);
            foreach ((_, Tensor tensor) in ordered)
            {
                using Tensor host = tensor.detach().to(CPU).contiguous();
                file.Write(host.bytes);
            }
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The safetensors dtype of a TorchSharp scalar type.</summary>
    public static TensorDType ToDType(ScalarType type) => type switch
    {
        ScalarType.Bool => TensorDType.Bool,
        ScalarType.Byte => TensorDType.U8,
        ScalarType.Int8 => TensorDType.I8,
        ScalarType.Int16 => TensorDType.I16,
        ScalarType.Int32 => TensorDType.I32,
        ScalarType.Int64 => TensorDType.I64,
        ScalarType.Float16 => TensorDType.F16,
        ScalarType.BFloat16 => TensorDType.BF16,
        ScalarType.Float32 => TensorDType.F32,
        ScalarType.Float64 => TensorDType.F64,
        _ => throw new NotSupportedException($"safetensors has no dtype for {type}."),
    };
}
