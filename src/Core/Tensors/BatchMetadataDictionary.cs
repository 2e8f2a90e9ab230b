using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace StreamLoader.Core.Tensors;

/// <summary>
/// A batch's metadata: its own entries (where the stream stands, counts) over entries shared by every batch of a run
/// (the vocabulary, the sequence length), which are held once by reference instead of copied into each batch.
/// </summary>
/// <remarks>
/// It reads as one dictionary: an own entry hides a shared one of the same key, and removing a shared key hides it.
/// Own entries are kept in a small array searched in order: a batch has a handful, and a hash table per batch would
/// cost more to build than the lookups it saves.
/// </remarks>
public sealed class BatchMetadataDictionary : IDictionary<string, string>, IReadOnlyDictionary<string, string>
{
    private static readonly IReadOnlyDictionary<string, string> s_none = new Dictionary<string, string>();
    private IReadOnlyDictionary<string, string> _shared = s_none;
    private KeyValuePair<string, string?>[] _own = new KeyValuePair<string, string?>[6];
    private int _count;

    /// <summary>Places <paramref name="entries"/> under this batch's own ones (replacing any shared before); they are not copied.</summary>
    public void Share(IReadOnlyDictionary<string, string> entries) => _shared = entries;

    public string this[string key]
    {
        get => TryGetValue(key, out string? value) ? value : throw new KeyNotFoundException($"The batch has no metadata '{key}'.");
        set => SetOwn(key, value ?? throw new ArgumentNullException(nameof(value)));
    }

    public int Count
    {
        get
        {
            int count = 0;
            foreach (KeyValuePair<string, string> _ in this)
            {
                count++;
            }
            return count;
        }
    }

    public bool IsReadOnly => false;

    public ICollection<string> Keys => this.Select(p => p.Key).ToList();

    public ICollection<string> Values => this.Select(p => p.Value).ToList();

    IEnumerable<string> IReadOnlyDictionary<string, string>.Keys => Keys;

    IEnumerable<string> IReadOnlyDictionary<string, string>.Values => Values;

    public void Add(string key, string value)
    {
        if (ContainsKey(key))
        {
            throw new ArgumentException($"The batch already has metadata '{key}'.", nameof(key));
        }
        SetOwn(key, value);
    }

    public void Add(KeyValuePair<string, string> item) => Add(item.Key, item.Value);

    public bool TryAdd(string key, string value)
    {
        if (ContainsKey(key))
        {
            return false;
        }
        SetOwn(key, value);
        return true;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool Contains(KeyValuePair<string, string> item) => TryGetValue(item.Key, out string? value) && value == item.Value;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        int at = Find(key);
        if (at >= 0)
        {
            value = _own[at].Value;
            return value is not null;
        }
        return _shared.TryGetValue(key, out value);
    }

    public bool Remove(string key)
    {
        if (!ContainsKey(key))
        {
            return false;
        }
        // A null own value hides the key, shared or not.
        SetOwn(key, null);
        return true;
    }

    public bool Remove(KeyValuePair<string, string> item) => Contains(item) && Remove(item.Key);

    public void Clear()
    {
        Array.Clear(_own, 0, _count);
        _count = 0;
        _shared = s_none;
    }

    public void CopyTo(KeyValuePair<string, string>[] array, int arrayIndex)
    {
        foreach (KeyValuePair<string, string> pair in this)
        {
            array[arrayIndex++] = pair;
        }
    }

    /// <summary>Own entries in the order they were first set, then the shared entries they do not hide.</summary>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++)
        {
            if (_own[i].Value is string value)
            {
                yield return new KeyValuePair<string, string>(_own[i].Key, value);
            }
        }
        foreach (KeyValuePair<string, string> pair in _shared)
        {
            if (Find(pair.Key) < 0)
            {
                yield return pair;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Sets an own entry; a null value hides the key.</summary>
    private void SetOwn(string key, string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        int at = Find(key);
        if (at >= 0)
        {
            _own[at] = new KeyValuePair<string, string?>(key, value);
            return;
        }
        if (_count == _own.Length)
        {
            Array.Resize(ref _own, _own.Length * 2);
        }
        _own[_count++] = new KeyValuePair<string, string?>(key, value);
    }

    private int Find(string key)
    {
        for (int i = 0; i < _count; i++)
        {
            if (string.Equals(_own[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }
}
