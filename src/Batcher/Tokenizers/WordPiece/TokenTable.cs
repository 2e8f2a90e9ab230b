using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamLoader.Batcher.Tokenizers.WordPiece;

/// <summary>
/// An immutable map from a token's characters to its id, laid out for the tokenizer's hot loop: every token's
/// characters in one array, and an open-addressing table of small slots that hold a token's id, where its characters
/// start, its length and 16 bits of its hash.
/// </summary>
/// <remarks>
/// A lookup reads one slot (more only on a collision) and, when length and hash bits agree, one run of characters:
/// no bucket-to-entry-to-string chain of dependent reads as in <see cref="Dictionary{TKey, TValue}"/>, whose three
/// cache misses per word dominated the tokenizer once reading and batching on the other cores evicted the
/// vocabulary from the shared cache. Tables stay at most half full, so a miss ends after about two slots.
/// </remarks>
internal sealed class TokenTable
{
    private readonly Slot[] _slots;
    private readonly char[] _chars;
    private readonly int _mask;

    /// <summary>Builds the table of <paramref name="entries"/> (keys distinct, ids ≥ 0).</summary>
    public TokenTable(IReadOnlyCollection<KeyValuePair<string, int>> entries)
    {
        int size = 16;
        while (size < entries.Count * 2)
        {
            size *= 2;
        }
        _slots = new Slot[size];
        _mask = size - 1;
        _chars = new char[entries.Sum(e => e.Key.Length)];
        int offset = 0;
        foreach ((string key, int id) in entries)
        {
            if (key.Length > ushort.MaxValue)
            {
                throw new InvalidDataException($"A vocabulary token of {key.Length:N0} characters is longer than the {ushort.MaxValue:N0} a token may have.");
            }
            ArgumentOutOfRangeException.ThrowIfNegative(id);
            key.CopyTo(_chars.AsSpan(offset));
            uint hash = Hash(key);
            int lengthAndTag = LengthAndTag(key.Length, hash);
            int at = (int)(hash & (uint)_mask);
            while (_slots[at].IdPlusOne != 0)
            {
                if (Matches(_slots[at], key, lengthAndTag))
                {
                    throw new ArgumentException($"The token '{key}' is in the table twice.", nameof(entries));
                }
                at = (at + 1) & _mask;
            }
            _slots[at] = new Slot(id + 1, offset, lengthAndTag);
            offset += key.Length;
        }
        Count = entries.Count;
    }

    /// <summary>Tokens in the table.</summary>
    public int Count { get; }

    /// <summary>The id of the token spelled <paramref name="key"/>, or false when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ReadOnlySpan<char> key, out int id)
    {
        uint hash = Hash(key);
        int lengthAndTag = LengthAndTag(key.Length, hash);
        ref Slot first = ref MemoryMarshal.GetArrayDataReference(_slots);
        int at = (int)(hash & (uint)_mask);
        while (true)
        {
            Slot slot = Unsafe.Add(ref first, at);
            if (slot.IdPlusOne == 0)
            {
                id = -1;
                return false;
            }
            if (Matches(slot, key, lengthAndTag))
            {
                id = slot.IdPlusOne - 1;
                return true;
            }
            at = (at + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Matches(Slot slot, ReadOnlySpan<char> key, int lengthAndTag) =>
        slot.LengthAndTag == lengthAndTag
        && MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_chars), slot.Offset), key.Length).SequenceEqual(key);

    // The length in the low 16 bits, the hash's top 16 bits (which the slot index does not use below 64K slots) above.
    private static int LengthAndTag(int length, uint hash) => (int)((hash & 0xFFFF0000u) | (uint)length);

    /// <summary>FNV-1a over the characters, then a finalizer so the low bits (the slot) and the high bits (the tag) both mix every character.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(ReadOnlySpan<char> key)
    {
        uint hash = 2166136261;
        foreach (char c in key)
        {
            hash = (hash ^ c) * 16777619;
        }
        hash ^= hash >> 15;
        hash *= 0x2C1B3C6D;
        hash ^= hash >> 12;
        return hash;
    }

    private readonly record struct Slot(int IdPlusOne, int Offset, int LengthAndTag);
}
