using System.Numerics;
using System.Runtime.InteropServices;

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
        if (Vector.IsHardwareAccelerated)
        {
            ReadOnlySpan<Vector<int>> from = MemoryMarshal.Cast<int, Vector<int>>(source);
            Span<Vector<long>> to = MemoryMarshal.Cast<long, Vector<long>>(destination[..(from.Length * Vector<int>.Count)]);
            for (int v = 0; v < from.Length; v++)
            {
                Vector.Widen(from[v], out to[2 * v], out to[(2 * v) + 1]);
            }
            i = from.Length * Vector<int>.Count;
        }
        for (; i < source.Length; i++)
        {
            destination[i] = source[i];
        }
    }
}
