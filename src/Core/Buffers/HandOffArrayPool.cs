using System.Numerics;
using System.Runtime.CompilerServices;

namespace StreamLoader.Core.Buffers;

/// <summary>
/// An array pool for buffers rented on one thread and returned on another: a tokenizer worker's ids, returned by the
/// batch builder; a batch's tensors, returned by the consumer or the transport.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="System.Buffers.ArrayPool{T}.Shared"/> keeps the array last returned on a thread in that thread's own
/// slot, where no other thread looks, and the rest in per-core stacks of a few arrays each. Buffers that always travel
/// from one thread to another can miss it: its event source showed the largest token and tensor arrays still being
/// allocated again between the 5th and the 20th pass over a corpus (<c>BufferAllocated</c>, reason
/// <c>PoolExhausted</c>). Here every thread sees every returned array.
/// </para>
/// <para>
/// Lengths are powers of two from 16 elements up to 64 MiB. Each length keeps at most as many returned arrays as fit
/// in 64 MiB, at least 4 and at most 64; longer arrays are not pooled, and an array whose length the pool does not
/// make (not a power of two, or under 16) is left to the garbage collector. The pool never trims: per length it holds
/// at most what was in use at once, and keeps it for the process's life. As with any pool, an array must be returned
/// once and not used after; a returned array is not cleared.
/// </para>
/// </remarks>
public static class HandOffArrayPool
{
    private const int Log2MinimumLength = 4;
    private const long LargestPooledBytes = 64L << 20;
    private const long RetainedBytesPerSize = 64L << 20;
    private const int FewestRetainedPerSize = 4;
    private const int MostRetainedPerSize = 64;

    /// <summary>An array of at least <paramref name="minimumLength"/> elements (its contents are undefined).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    public static T[] Rent<T>(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        Bucket<T>[] buckets = Store<T>.Buckets;
        int index = BucketIndex(minimumLength);
        if (index >= buckets.Length)
        {
            return GC.AllocateUninitializedArray<T>(minimumLength);
        }
        return buckets[index].TryTake() ?? GC.AllocateUninitializedArray<T>(1 << (index + Log2MinimumLength));
    }

    /// <summary>
    /// Gives <paramref name="array"/> back for another renter; the caller must not use it afterwards. An array of a
    /// length the pool does not make (an empty one included) is ignored, so callers need not check.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    public static void Return<T>(T[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        int length = array.Length;
        if (length < 1 << Log2MinimumLength || !BitOperations.IsPow2(length))
        {
            return;
        }
        int index = BitOperations.Log2((uint)length) - Log2MinimumLength;
        Bucket<T>[] buckets = Store<T>.Buckets;
        if (index < buckets.Length)
        {
            buckets[index].TryAdd(array);
        }
    }

    /// <summary>Arrays of each pooled length held now, shortest first (for tests and diagnostics).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    public static int[] RetainedCounts<T>() => Store<T>.Buckets.Select(b => b.Count).ToArray();

    private static int BucketIndex(int length) =>
        length <= 1 << Log2MinimumLength ? 0 : BitOperations.Log2((uint)length - 1) + 1 - Log2MinimumLength;

    /// <summary>The buckets for one element type, shortest length first.</summary>
    private static class Store<T>
    {
        public static readonly Bucket<T>[] Buckets = Create();

        private static Bucket<T>[] Create()
        {
            long elementBytes = Unsafe.SizeOf<T>();
            var buckets = new List<Bucket<T>>();
            for (long length = 1 << Log2MinimumLength; length * elementBytes <= LargestPooledBytes && length <= Array.MaxLength; length *= 2)
            {
                buckets.Add(new Bucket<T>((int)Math.Clamp(RetainedBytesPerSize / (length * elementBytes), FewestRetainedPerSize, MostRetainedPerSize)));
            }
            return [.. buckets];
        }
    }

    /// <summary>The returned arrays of one length: a bounded stack under a lock held for a few instructions.</summary>
    private sealed class Bucket<T>
    {
        private readonly T[]?[] _arrays;
        private readonly Lock _lock = new();
        private int _count;

        public Bucket(int capacity)
        {
            _arrays = new T[]?[capacity];
        }

        public int Count => Volatile.Read(ref _count);

        public T[]? TryTake()
        {
            lock (_lock)
            {
                if (_count == 0)
                {
                    return null;
                }
                T[]? array = _arrays[--_count];
                _arrays[_count] = null;
                return array;
            }
        }

        public void TryAdd(T[] array)
        {
            lock (_lock)
            {
                if (_count < _arrays.Length)
                {
                    _arrays[_count++] = array;
                }
            }
        }
    }
}
