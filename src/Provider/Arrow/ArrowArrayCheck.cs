using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace StreamLoader.Provider.Arrow;

/// <summary>
/// Checks an Arrow array's buffers against its length before any value is read. Apache.Arrow reads strings through
/// their offsets without bounds checks, so a file with a bad offset (truncated, damaged, or made to) would read memory
/// outside its buffers and crash the process; here it is a message naming the column instead.
/// </summary>
internal static class ArrowArrayCheck
{
    /// <summary>Null when every value of <paramref name="data"/> can be read safely; otherwise what is wrong.</summary>
    public static string? Problem(ArrayData data)
    {
        if (data.Length < 0 || data.Offset < 0)
        {
            return $"a negative length ({data.Length}) or offset ({data.Offset})";
        }
        long end = (long)data.Offset + data.Length;
        if (data.Buffers.Length > 0 && !data.Buffers[0].IsEmpty && data.Buffers[0].Length * 8L < end)
        {
            return $"its validity bitmap has {data.Buffers[0].Length} bytes for {end} rows";
        }
        return data.DataType switch
        {
            DictionaryType dictionary => Dictionary(data, dictionary, end),
            StringType or BinaryType => Offsets(data, end, wide: false, data.Buffers.Length > 2 ? data.Buffers[2].Length : 0),
            LargeStringType or LargeBinaryType => Offsets(data, end, wide: true, data.Buffers.Length > 2 ? data.Buffers[2].Length : 0),
            StringViewType or BinaryViewType => Views(data, end),
            ListType => Child(data) ?? Offsets(data, end, wide: false, ChildLength(data)),
            LargeListType => Child(data) ?? Offsets(data, end, wide: true, ChildLength(data)),
            BooleanType => Buffer(data, 1) * 8L < end ? $"its values have {Buffer(data, 1)} bytes for {end} rows" : null,
            FixedWidthType fixedWidth => Buffer(data, 1) < end * fixedWidth.BitWidth / 8 ? $"its values have {Buffer(data, 1)} bytes for {end} rows of {fixedWidth.BitWidth / 8} bytes" : null,
            _ => null,
        };
    }

    private static int Buffer(ArrayData data, int index) => data.Buffers.Length > index ? data.Buffers[index].Length : 0;

    private static long ChildLength(ArrayData data) => data.Children is { Length: > 0 } children ? (long)children[0].Offset + children[0].Length : 0;

    private static string? Child(ArrayData data) =>
        data.Children is { Length: > 0 } children ? Problem(children[0]) is { } problem ? $"its values: {problem}" : null : "a list without its values";

    /// <summary>Offsets (32- or 64-bit) for rows offset…end: within their buffer, non-negative, non-decreasing, and ending within <paramref name="limit"/>.</summary>
    private static string? Offsets(ArrayData data, long end, bool wide, long limit)
    {
        int width = wide ? 8 : 4;
        ReadOnlySpan<byte> offsets = data.Buffers.Length > 1 ? data.Buffers[1].Span : default;
        if (data.Length == 0)
        {
            return null;
        }
        if (offsets.Length < (end + 1) * width)
        {
            return $"its offsets have {offsets.Length} bytes for {end} rows";
        }
        long previous = -1;
        for (long k = data.Offset; k <= end; k++)
        {
            long value = wide ? BinaryPrimitives.ReadInt64LittleEndian(offsets[(int)(k * 8)..]) : BinaryPrimitives.ReadInt32LittleEndian(offsets[(int)(k * 4)..]);
            if (value < 0 || value < previous || value > limit)
            {
                return $"offset {k} is {value} (after {previous}; the values have {limit})";
            }
            previous = value;
        }
        return null;
    }

    /// <summary>Each view of a string or binary view column: inline (12 bytes or fewer) or inside one of its data buffers.</summary>
    private static string? Views(ArrayData data, long end)
    {
        ReadOnlySpan<byte> views = data.Buffers.Length > 1 ? data.Buffers[1].Span : default;
        if (views.Length < end * 16)
        {
            return $"its views have {views.Length} bytes for {end} rows";
        }
        for (long k = data.Offset; k < end; k++)
        {
            ReadOnlySpan<byte> view = views.Slice((int)(k * 16), 16);
            int length = BinaryPrimitives.ReadInt32LittleEndian(view);
            if (length < 0)
            {
                return $"view {k} has length {length}";
            }
            if (length <= 12)
            {
                continue;
            }
            int buffer = BinaryPrimitives.ReadInt32LittleEndian(view[8..]);
            int offset = BinaryPrimitives.ReadInt32LittleEndian(view[12..]);
            if (buffer < 0 || 2 + (long)buffer >= data.Buffers.Length || offset < 0 || (long)offset + length > data.Buffers[2 + buffer].Length)
            {
                return $"view {k} points outside its data (buffer {buffer}, offset {offset}, length {length})";
            }
        }
        return null;
    }

    /// <summary>A dictionary-encoded column: its indices within their buffer and its dictionary, the dictionary itself sound.</summary>
    private static string? Dictionary(ArrayData data, DictionaryType type, long end)
    {
        if (data.Dictionary is null)
        {
            return "a dictionary-encoded column without its dictionary";
        }
        if (Problem(data.Dictionary) is { } problem)
        {
            return $"its dictionary: {problem}";
        }
        if (type.IndexType is not FixedWidthType index || index.BitWidth is not (8 or 16 or 32 or 64))
        {
            return $"dictionary indices of type {type.IndexType.Name}";
        }
        int width = index.BitWidth / 8;
        ReadOnlySpan<byte> indices = data.Buffers.Length > 1 ? data.Buffers[1].Span : default;
        if (indices.Length < end * width)
        {
            return $"its indices have {indices.Length} bytes for {end} rows";
        }
        ReadOnlySpan<byte> validity = data.Buffers[0].IsEmpty ? default : data.Buffers[0].Span;
        bool signed = type.IndexType is Int8Type or Int16Type or Int32Type or Int64Type;
        for (long k = data.Offset; k < end; k++)
        {
            if (!validity.IsEmpty && (validity[(int)(k >> 3)] & (1 << (int)(k & 7))) == 0)
            {
                continue;
            }
            ReadOnlySpan<byte> at = indices.Slice((int)(k * width), width);
            long value = width switch
            {
                1 => signed ? (sbyte)at[0] : at[0],
                2 => signed ? BinaryPrimitives.ReadInt16LittleEndian(at) : BinaryPrimitives.ReadUInt16LittleEndian(at),
                4 => signed ? BinaryPrimitives.ReadInt32LittleEndian(at) : BinaryPrimitives.ReadUInt32LittleEndian(at),
                _ => BinaryPrimitives.ReadInt64LittleEndian(at),
            };
            if (value < 0 || value >= data.Dictionary.Length)
            {
                return $"row {k - data.Offset} has dictionary index {value}, outside its {data.Dictionary.Length} entries";
            }
        }
        return null;
    }
}
