using StreamLoader.Core.Buffers;

namespace StreamLoader.Core.Tokenization;

/// <summary>
/// A growable list of token ids backed by an array from <see cref="HandOffArrayPool"/> (a worker fills it, the batch
/// builder on another thread releases it). Dispose it to return the array.
/// </summary>
public sealed class TokenBuffer : IDisposable
{
    private int[] _items;
    private int _count;

    public TokenBuffer(int initialCapacity = 256)
    {
        _items = HandOffArrayPool.Rent<int>(Math.Max(16, initialCapacity));
    }

    /// <summary>Number of ids held.</summary>
    public int Count => _count;

    /// <summary>The ids held.</summary>
    public ReadOnlySpan<int> Span => _items.AsSpan(0, _count);

    public void Add(int id)
    {
        if (_count == _items.Length)
        {
            Grow(_count + 1);
        }
        _items[_count++] = id;
    }

    public void AddRange(ReadOnlySpan<int> ids)
    {
        if (_count + ids.Length > _items.Length)
        {
            Grow(_count + ids.Length);
        }
        ids.CopyTo(_items.AsSpan(_count));
        _count += ids.Length;
    }

    public void AddRange(IReadOnlyList<int> ids)
    {
        if (_count + ids.Count > _items.Length)
        {
            Grow(_count + ids.Count);
        }
        if (ids is List<int> list)
        {
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list).CopyTo(_items.AsSpan(_count));
            _count += list.Count;
            return;
        }
        for (int i = 0; i < ids.Count; i++)
        {
            _items[_count++] = ids[i];
        }
    }

    public void Clear() => _count = 0;

    /// <summary>
    /// Empties the buffer and makes room for <paramref name="capacity"/> ids, renting an array again after
    /// <see cref="Dispose"/>: the buffer object serves another document.
    /// </summary>
    public void Reset(int capacity)
    {
        _count = 0;
        if (_items.Length >= capacity)
        {
            return;
        }
        HandOffArrayPool.Return(_items);
        _items = HandOffArrayPool.Rent<int>(Math.Max(16, capacity));
    }

    /// <summary>
    /// Empties the buffer for another document, as <see cref="Dispose"/> does, but keeps its array when it holds at
    /// most <paramref name="keepCapacity"/> ids: a buffer that goes round between threads then needs no rent and no
    /// return per document.
    /// </summary>
    public void Release(int keepCapacity)
    {
        if (_items.Length > keepCapacity)
        {
            Dispose();
            return;
        }
        _count = 0;
    }

    /// <summary>Ids the buffer holds before it must grow.</summary>
    public int Capacity => _items.Length;

    /// <summary>Keeps the first <paramref name="count"/> ids and drops the rest.</summary>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)_count, nameof(count));
        _count = count;
    }

    private void Grow(int needed)
    {
        int[] larger = HandOffArrayPool.Rent<int>(Math.Max(needed, _items.Length * 2));
        _items.AsSpan(0, _count).CopyTo(larger);
        HandOffArrayPool.Return(_items);
        _items = larger;
    }

    public void Dispose()
    {
        int[] items = _items;
        _items = [];
        _count = 0;
        HandOffArrayPool.Return(items);
    }
}
