using System.Buffers;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>
/// Leaves <see cref="ArrayPool{T}.Shared"/> full of arrays filled with a value, so that code which reads a pooled
/// buffer it never wrote sees that value instead of the zeros a fresh process happens to give it.
/// </summary>
public static class PoisonedPool
{
    /// <summary>Fills every bucket from 16 to <paramref name="largest"/> elements, on this thread and every core's share of the pool.</summary>
    public static void Fill<T>(T value, int largest = 1 << 16)
    {
        var rented = new List<T[]>();
        for (int size = 16; size <= largest; size *= 2)
        {
            // More than the thread's own slot and every core's stack hold, so every one of them is poisoned.
            for (int i = 0; i < 32 * (Environment.ProcessorCount + 1); i++)
            {
                T[] array = ArrayPool<T>.Shared.Rent(size);
                Array.Fill(array, value);
                rented.Add(array);
            }
        }
        foreach (T[] array in rented)
        {
            ArrayPool<T>.Shared.Return(array);
        }
    }
}
