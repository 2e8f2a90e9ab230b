using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// Hugging Face's BPE model: a word's characters (or, with <c>byte_fallback</c>, the bytes of characters outside the
/// vocabulary) merged pair by pair, lowest merge rank first and leftmost first among equals, as <c>tokenizers</c>'
/// <c>Word::merge_all</c> does; <c>ignore_merges</c> takes a word that is a whole token as it is.
/// </summary>
internal sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int _unknown;
    private readonly bool _fuseUnknown;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly string _prefix;
    private readonly string _suffix;
    private readonly int[] _byteTokens = new int[256];
    private const int CacheWords = 200_000;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cached;

    private BpeModel(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, int unknown, bool fuseUnknown, bool byteFallback, bool ignoreMerges, string prefix, string suffix)
    {
        _vocab = vocab;
        _merges = merges;
        _unknown = unknown;
        _fuseUnknown = fuseUnknown;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _prefix = prefix;
        _suffix = suffix;
        for (int b = 0; b < 256; b++)
        {
            _byteTokens[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
    }

    public IReadOnlyDictionary<string, int> Vocabulary => _vocab;

    public static BpeModel Read(JsonElement model, string where)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }
        var merges = new Dictionary<long, (int, int)>(PairComparer.Instance);
        int rank = 0;
        foreach (JsonElement merge in model.GetProperty("merges").EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.Array)
            {
                left = merge[0].GetString()!;
                right = merge[1].GetString()!;
            }
            else
            {
                string text = merge.GetString()!;
                int space = text.IndexOf(' ', 1);
                if (space < 0)
                {
                    throw new InvalidDataException($"{where}: merge {rank} ('{text}') is not two tokens separated by a space.");
                }
                left = text[..space];
                right = text[(space + 1)..];
            }
            string prefix = Text(model, "continuing_subword_prefix");
            string joined = left + (prefix.Length > 0 && right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right);
            if (vocab.TryGetValue(left, out int l) && vocab.TryGetValue(right, out int r) && vocab.TryGetValue(joined, out int id))
            {
                merges.TryAdd(Key(l, r), (rank, id));
            }
            else
            {
                throw new InvalidDataException($"{where}: merge {rank} ('{left}' + '{right}') names a token that is not in the vocabulary.");
            }
            rank++;
        }
        string? unknownToken = model.TryGetProperty("unk_token", out JsonElement unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null;
        int unknown = unknownToken is not null && vocab.TryGetValue(unknownToken, out int u) ? u : -1;
        return new BpeModel(vocab, merges, unknown, Flag(model, "fuse_unk"), Flag(model, "byte_fallback"), Flag(model, "ignore_merges"), Text(model, "continuing_subword_prefix"), Text(model, "end_of_word_suffix"));
    }

    private static bool Flag(JsonElement json, string name) => json.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.True;

    private static string Text(JsonElement json, string name) => json.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : string.Empty;

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// Hashes a pair key by multiplication: <see cref="long.GetHashCode"/> is the XOR of the halves, which sends every
    /// pair of equal ids (a merge of "=" with "=") and every pair of nearby ids to a handful of buckets.
    /// </summary>
    private sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);
    }

    /// <summary>
    /// Appends the ids of one pre-tokenized word; <paramref name="byteLevel"/>: its UTF-8 bytes are first spelled in the
    /// byte-level alphabet. Words seen before come from a cache looked up by the text itself, without a copy.
    /// </summary>
    public void Encode(ReadOnlySpan<char> word, bool byteLevel, Core.Tokenization.TokenBuffer output)
    {
        if (word.IsEmpty)
        {
            return;
        }
        ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cache = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        if (cache.TryGetValue(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = EncodeWord(byteLevel ? ToByteLevel(word) : word.ToString());
        // A counter of our own: ConcurrentDictionary.Count takes every lock (microseconds), and this runs per new word.
        if (word.Length <= 64 && Volatile.Read(ref _cached) < CacheWords && _cache.TryAdd(word.ToString(), ids))
        {
            Interlocked.Increment(ref _cached);
        }
        output.AddRange(ids);
    }

    private static string ToByteLevel(ReadOnlySpan<char> word)
    {
        int count = Encoding.UTF8.GetByteCount(word);
        Span<byte> bytes = count <= 512 ? stackalloc byte[count] : new byte[count];
        Encoding.UTF8.GetBytes(word, bytes);
        var chars = new char[count];
        for (int i = 0; i < count; i++)
        {
            chars[i] = ByteLevelAlphabet.ByteToChar[bytes[i]];
        }
        return new string(chars);
    }

    private int[] EncodeWord(string word)
    {
        if (_ignoreMerges && _prefix.Length == 0 && _suffix.Length == 0 && _vocab.TryGetValue(word, out int whole))
        {
            return [whole];
        }
        // The word's symbols: one per character, the prefix and suffix as the model's options say.
        var symbols = new List<int>(word.Length);
        int index = 0;
        bool lastWasUnknown = false;
        foreach (Rune rune in word.EnumerateRunes())
        {
            int length = rune.Utf16SequenceLength;
            string piece = rune.ToString();
            if (index > 0 && _prefix.Length > 0)
            {
                piece = _prefix + piece;
            }
            if (index + length == word.Length && _suffix.Length > 0)
            {
                piece += _suffix;
            }
            index += length;
            if (_vocab.TryGetValue(piece, out int id))
            {
                symbols.Add(id);
                lastWasUnknown = false;
            }
            else if (_byteFallback && ByteTokens(rune) is { } bytes)
            {
                symbols.AddRange(bytes);
                lastWasUnknown = false;
            }
            else if (_unknown >= 0)
            {
                if (!(_fuseUnknown && lastWasUnknown))
                {
                    symbols.Add(_unknown);
                }
                lastWasUnknown = true;
            }
            else
            {
                throw new InvalidDataException($"'{piece}' is not in the vocabulary and the model has no unknown token.");
            }
        }
        return Merge(symbols);
    }

    private int[]? ByteTokens(Rune rune)
    {
        Span<byte> utf8 = stackalloc byte[4];
        int n = rune.EncodeToUtf8(utf8);
        var ids = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = _byteTokens[utf8[i]];
            if (ids[i] < 0)
            {
                return null;
            }
        }
        return ids;
    }

    /// <summary>Merges a word's symbols, lowest rank first and leftmost among equals, with a heap: n log n for a long word.</summary>
    private int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2)
        {
            return symbols.ToArray();
        }
        int[] id = symbols.ToArray();
        int[] previous = new int[n];
        int[] next = new int[n];
        bool[] gone = new bool[n];
        for (int i = 0; i < n; i++)
        {
            previous[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var queue = new PriorityQueue<(int Position, int Right, int NewId), (int Rank, int Position)>();
        void Push(int position)
        {
            int right = next[position];
            if (right >= 0 && _merges.TryGetValue(Key(id[position], id[right]), out (int Rank, int Id) merge))
            {
                queue.Enqueue((position, id[right], merge.Id), (merge.Rank, position));
            }
        }
        for (int i = 0; i < n - 1; i++)
        {
            Push(i);
        }
        while (queue.TryDequeue(out (int Position, int Right, int NewId) top, out _))
        {
            int position = top.Position;
            int right = next[position];
            // Stale entries: the symbol was merged away, or its right neighbour changed since the pair was queued.
            if (gone[position] || right < 0 || id[right] != top.Right || !_merges.TryGetValue(Key(id[position], id[right]), out (int Rank, int Id) current) || current.Id != top.NewId)
            {
                continue;
            }
            id[position] = top.NewId;
            gone[right] = true;
            next[position] = next[right];
            if (next[right] >= 0)
            {
                previous[next[right]] = position;
            }
            if (previous[position] >= 0)
            {
                Push(previous[position]);
            }
            Push(position);
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i])
        {
            result.Add(id[i]);
        }
        return result.ToArray();
    }
}
