namespace StreamLoader.Core.Tensors;

/// <summary>Element types a tensor can hold. Names and widths follow the safetensors format.</summary>
public enum TensorDType : byte
{
    Bool,
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    BF16,
    F32,
    F64,
}

/// <summary>Sizes and wire names of <see cref="TensorDType"/> values.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool or TensorDType.U8 or TensorDType.I8 => 1,
        TensorDType.I16 or TensorDType.U16 or TensorDType.F16 or TensorDType.BF16 => 2,
        TensorDType.I32 or TensorDType.U32 or TensorDType.F32 => 4,
        TensorDType.I64 or TensorDType.U64 or TensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>The safetensors name ("I64", "BOOL", ...).</summary>
    public static string WireName(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    /// <summary>Parses a safetensors dtype name.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out TensorDType dtype)
    {
        if (name.SequenceEqual("BOOL"))
        {
            dtype = TensorDType.Bool;
            return true;
        }
        // Enum.TryParse also takes numbers ("5"); a wire dtype is always a name.
        dtype = default;
        return !name.IsEmpty && char.IsLetter(name[0]) && Enum.TryParse(name, ignoreCase: false, out dtype) && dtype != TensorDType.Bool;
    }

    /// <summary>The dtype that stores <typeparamref name="T"/>, for typed span access checks.</summary>
    public static TensorDType Of<T>()
        where T : unmanaged => typeof(T) switch
        {
            Type t when t == typeof(long) => TensorDType.I64,
            Type t when t == typeof(int) => TensorDType.I32,
            Type t when t == typeof(float) => TensorDType.F32,
            Type t when t == typeof(double) => TensorDType.F64,
            Type t when t == typeof(byte) => TensorDType.U8,
            Type t when t == typeof(sbyte) => TensorDType.I8,
            Type t when t == typeof(short) => TensorDType.I16,
            Type t when t == typeof(ushort) => TensorDType.U16,
            Type t when t == typeof(uint) => TensorDType.U32,
            Type t when t == typeof(ulong) => TensorDType.U64,
            Type t when t == typeof(bool) => TensorDType.Bool,
            Type t when t == typeof(Half) => TensorDType.F16,
            _ => throw new NotSupportedException($"No tensor dtype stores {typeof(T).Name}."),
        };
}
