using System.Numerics;
using System.Runtime.CompilerServices;

namespace StreamLoader.Core.Buffers;

/// <summary>
/// An array pool for buffers rented on one thread and returned on another: a tokenizer worker's ids, returned by the
/// batch builder; a batch's tensors, returned by the consumer or the transport.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="System.Buffers.ArrayPool{T}.Shared"/> keeps a returned array in the returning thread's own slot first,
/// where a renting thread never looks. Buffers that always travel from one thread to another therefore miss the pool
/// and are allocated again (measured: every few passes for a corpus's largest documents and its batch tensors, which
/// is most of what the loader allocated per batch). Here every thread sees every returned array.
/// </para>
/// <para>
/// Lengths are powers of two from 16 elements; each size keeps at most as many returned arrays as fit in 16 MiB (at
/// least one, at most 64), so what the pool holds is bounded by what was in use at once. Arrays over 16 MiB are not
/// pooled, and an array of any other length given back (not from this pool) is left to the garbage collector. As with
/// any pool, an array must be returned once and not used after: a returned array is not cleared.
/// </para>
/// </remarks>
public static class HandOffArrayPool
{
    private const int Log2MinimumLength = 4;
    private const int RetainedBytesPerSize = 16 << 20;
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

    /// <summary>Gives <paramref name="array"/> back for another renter; the caller must not use it afterwards.</summary>
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
            int elementBytes = RuntimeHelpers.IsReferenceOrContainsReferences<T>() ? IntPtr.Size : Unsafe.SizeOf<T>();
            var buckets = new List<Bucket<T>>();
            for (long length = 1 << Log2MinimumLength; length * elementBytes <= RetainedBytesPerSize; length *= 2)
            {
                buckets.Add(new Bucket<T>((int)Math.Clamp(RetainedBytesPerSize / (length * elementBytes), 1, MostRetainedPerSize)));
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
