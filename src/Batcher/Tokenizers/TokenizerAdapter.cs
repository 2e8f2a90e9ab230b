using Microsoft.ML.Tokenizers;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>
/// Adapts a Microsoft.ML.Tokenizers tokenizer to <see cref="ITextTokenizer"/>: encodes without adding special tokens,
/// in bounded chunks so a giant document never needs one giant id list, and appends any special token the vocabulary
/// lacks (tiktoken has no [CLS], [SEP], [MASK] or [PAD]) as new ids after the last one.
/// </summary>
internal sealed class TokenizerAdapter : ITextTokenizer
{
    /// <summary>Text is encoded in pieces of at most this many chars, cut at whitespace.</summary>
    internal const int ChunkChars = 1 << 16;

    private readonly Tokenizer _tokenizer;
    private readonly Func<Tokenizer, ReadOnlySpan<char>, IReadOnlyList<int>> _encode;
    private readonly Func<int, string?> _idToToken;
    private readonly int _baseVocabularySize;
    private readonly string[] _addedTokens;
    private readonly Func<string, int?> _lookup;

    private TokenizerAdapter(
        string name,
        Tokenizer tokenizer,
        Func<Tokenizer, ReadOnlySpan<char>, IReadOnlyList<int>> encode,
        Func<int, string?> idToToken,
        int baseVocabularySize,
        SpecialTokens special,
        string[] addedTokens,
        Func<string, int?> lookup)
    {
        _lookup = lookup;
        Name = name;
        _tokenizer = tokenizer;
        _encode = encode;
        _idToToken = idToToken;
        _baseVocabularySize = baseVocabularySize;
        _addedTokens = addedTokens;
        Special = special;
        VocabularySize = baseVocabularySize + addedTokens.Length;
    }

    public string Name { get; }

    public int VocabularySize { get; }

    public SpecialTokens Special { get; }

    public int FindToken(string token)
    {
        int added = Array.IndexOf(_addedTokens, token);
        return added >= 0 ? _baseVocabularySize + added : _lookup(token) ?? -1;
    }

    /// <summary>The wrapped tokenizer (for benchmarks comparing against the raw tokenizer).</summary>
    public Tokenizer Inner => _tokenizer;

    /// <summary>
    /// Builds the adapter. <paramref name="lookup"/> finds a token's id in the vocabulary, or null. For each special
    /// role the first name found is used; a role with none found gets a new id after the vocabulary.
    /// </summary>
    public static TokenizerAdapter Create(
        string name,
        Tokenizer tokenizer,
        Func<Tokenizer, ReadOnlySpan<char>, IReadOnlyList<int>> encode,
        Func<int, string?> idToToken,
        Func<string, int?> lookup,
        int baseVocabularySize)
    {
        var added = new List<string>();
        int Resolve(string[] names)
        {
            foreach (string candidate in names)
            {
                if (lookup(candidate) is int id)
                {
                    return id;
                }
            }
            added.Add(names[0]);
            return baseVocabularySize + added.Count - 1;
        }

        int pad = Resolve(["[PAD]", "<pad>", "<|pad|>"]);
        int unk = Resolve(["[UNK]", "<unk>", "<|unk|>"]);
        int cls = Resolve(["[CLS]", "<s>", "<cls>", "<|startoftext|>"]);
        int sep = Resolve(["[SEP]", "</s>", "<sep>", "<|endoftext|>"]);
        int mask = Resolve(["[MASK]", "<mask>", "<|mask|>"]);
        var special = new SpecialTokens(pad, unk, cls, sep, mask);
        return new TokenizerAdapter(name, tokenizer, encode, idToToken, baseVocabularySize, special, added.ToArray(), lookup);
    }

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
    {
        while (!text.IsEmpty)
        {
            int cut = ChunkBoundary(text, ChunkChars);
            output.AddRange(_encode(_tokenizer, text[..cut]));
            text = text[cut..];
        }
    }

    /// <summary>
    /// Where to cut <paramref name="text"/> so the first piece has at most <paramref name="limit"/> chars: just before
    /// the last whitespace that precedes a non-whitespace char, so pre-tokenizers see the same word boundaries. With
    /// no such place in the window, the piece runs on to the next one (or to the end): a cut inside a word would
    /// change its tokens, and exact ids matter more than a bounded piece.
    /// </summary>
    internal static int ChunkBoundary(ReadOnlySpan<char> text, int limit)
    {
        if (text.Length <= limit)
        {
            return text.Length;
        }
        for (int i = limit - 1; i > limit / 2; i--)
        {
            if (char.IsWhiteSpace(text[i]) && !char.IsWhiteSpace(text[i + 1]))
            {
                return i;
            }
        }
        for (int i = limit; i + 1 < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i]) && !char.IsWhiteSpace(text[i + 1]))
            {
                return i;
            }
        }
        return text.Length;
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new System.Text.StringBuilder();
        var run = new List<int>(ids.Length);
        foreach (int id in ids)
        {
            if (id >= _baseVocabularySize)
            {
                Flush();
                text.Append(IdToToken(id));
            }
            else
            {
                run.Add(id);
            }
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (run.Count > 0)
            {
                text.Append(_tokenizer.Decode(run));
                run.Clear();
            }
        }
    }

    public string IdToToken(int id)
    {
        if (id >= _baseVocabularySize && id < VocabularySize)
        {
            return _addedTokens[id - _baseVocabularySize];
        }
        if (id < 0 || id >= VocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Id outside the vocabulary of {Name} (size {VocabularySize}).");
        }
        return _idToToken(id) ?? _tokenizer.Decode([id]) ?? string.Empty;
    }
}
