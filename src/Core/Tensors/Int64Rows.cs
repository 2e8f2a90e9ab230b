using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace StreamLoader.Core.Tensors;

/// <summary>
/// The copies a batch builder makes into its <c>int64</c> rows, once per token on the batcher's single thread:
/// token ids (<c>int32</c>) widened to <c>int64</c> with vector instructions where the machine has them.
/// </summary>
public static class Int64Rows
{
    /// <summary>Writes each of <paramref name="source"/>'s ids, widened, to the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void Widen(ReadOnlySpan<int> source, Span<long> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} elements, fewer than the {source.Length} to copy.", nameof(destination));
        }
        int i = 0;
        if (Vector256.IsHardwareAccelerated && source.Length >= Vector256<int>.Count)
        {
            ref int from = ref MemoryMarshal.GetReference(source);
            ref long to = ref MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - Vector256<int>.Count; i += Vector256<int>.Count)
            {
                (Vector256<long> lower, Vector256<long> upper) = Vector256.Widen(Vector256.LoadUnsafe(ref from, (nuint)i));
                lower.StoreUnsafe(ref to, (nuint)i);
                upper.StoreUnsafe(ref to, (nuint)(i + Vector256<long>.Count));
            }
        }
        else if (Vector128.IsHardwareAccelerated && source.Length >= Vector128<int>.Count)
        {
            ref int from = ref MemoryMarshal.GetReference(source);
            ref long to = ref MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - Vector128<int>.Count; i += Vector128<int>.Count)
            {
                (Vector128<long> lower, Vector128<long> upper) = Vector128.Widen(Vector128.LoadUnsafe(ref from, (nuint)i));
                lower.StoreUnsafe(ref to, (nuint)i);
                upper.StoreUnsafe(ref to, (nuint)(i + Vector128<long>.Count));
            }
        }
        for (; i < source.Length; i++)
        {
            destination[i] = source[i];
        }
    }
}
