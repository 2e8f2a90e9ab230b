using System.Buffers;
using System.Text;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.WordPiece;

/// <summary>
/// BERT WordPiece that gives Hugging Face <c>tokenizers</c>' ids exactly (its BertNormalizer, BertPreTokenizer and
/// WordPiece model with <c>[UNK]</c> for unknown words and words over 100 characters), written for the batcher's hot
/// path: one pass over the text, ids appended straight into the caller's buffer, nothing allocated per token.
/// </summary>
/// <remarks>
/// Uncased (<c>bert-base-uncased</c>): clean text, isolate CJK ideographs, strip accents (NFD, drop nonspacing
/// marks), lower-case. Cased: clean text and CJK only. Safe to use from several threads at once.
/// </remarks>
public sealed class BertWordPieceTokenizer : ITextTokenizer
{
    /// <summary>Words longer than this many characters become <c>[UNK]</c>, as in Hugging Face's WordPiece.</summary>
    public const int MaxInputCharsPerWord = 100;

    private const string ContinuationPrefix = "##";

    private readonly string[] _tokens;
    private readonly TokenTable _words;
    private readonly TokenTable _continuations;
    private readonly int _longestWord;
    private readonly int _longestContinuation;
    private readonly int _unknown;
    private readonly bool _uncased;

    private BertWordPieceTokenizer(string name, string[] tokens, bool uncased)
    {
        Name = name;
        _tokens = tokens;
        _uncased = uncased;
        var words = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
        {
            // As in Hugging Face's vocab reader, a repeated token keeps its last line.
            string token = tokens[id];
            words[token] = id;
            _longestWord = Math.Max(_longestWord, token.Length);
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
            {
                continuations[token[ContinuationPrefix.Length..]] = id;
                _longestContinuation = Math.Max(_longestContinuation, token.Length - ContinuationPrefix.Length);
            }
        }
        _words = new TokenTable(words);
        _continuations = new TokenTable(continuations);
        _unknown = Id(words, "[UNK]");
        Special = new SpecialTokens(Id(words, "[PAD]"), _unknown, Id(words, "[CLS]"), Id(words, "[SEP]"), Id(words, "[MASK]"));
    }

    public string Name { get; }

    public int VocabularySize => _tokens.Length;

    public int FindToken(string token) => _words.TryGetValue(token, out int id) ? id : -1;

    public SpecialTokens Special { get; }

    /// <summary>Loads a BERT <c>vocab.txt</c> (one token per line; the line number is the id).</summary>
    /// <param name="vocabPath">The vocabulary file.</param>
    /// <param name="uncased">Strip accents and lower-case, as <c>bert-base-uncased</c>; false for cased vocabularies.</param>
    public static BertWordPieceTokenizer Create(string vocabPath, bool uncased = true)
    {
        string[] tokens = File.ReadAllLines(vocabPath);
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = tokens[i].TrimEnd();
        }
        if (tokens.Length == 0)
        {
            throw new InvalidDataException($"{vocabPath}: the vocabulary is empty.");
        }
        return FromTokens($"wordpiece:{Path.GetFileName(vocabPath)}", tokens, uncased, vocabPath);
    }

    /// <summary>A WordPiece tokenizer over <paramref name="tokens"/> (index = id), from a vocab.txt or a BERT tokenizer.json.</summary>
    internal static BertWordPieceTokenizer FromTokens(string name, string[] tokens, bool uncased, string where)
    {
        var present = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (string required in (string[])["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
        {
            if (!present.Contains(required))
            {
                throw new InvalidDataException($"{where}: a BERT vocabulary needs the token {required}, and this one lacks it.");
            }
        }
        return new BertWordPieceTokenizer(name, tokens, uncased);
    }

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
    {
        var words = new WordReader(this, output, stackalloc char[256]);
        try
        {
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c < 128)
                {
                    BertTextRules.Kind ascii = BertTextRules.Ascii(c);
                    if (ascii == BertTextRules.Kind.Word)
                    {
                        words.Append(_uncased && char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c);
                        words.EndCharacter();
                    }
                    else
                    {
                        words.Take(ascii, text.Slice(i, 1));
                    }
                    continue;
                }

                int codePoint = c;
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    codePoint = char.ConvertToUtf32(c, text[++i]);
                }
                BertTextRules.Kind kind = BertTextRules.Classify(codePoint);
                if (kind is BertTextRules.Kind.Removed or BertTextRules.Kind.Space || BertTextRules.IsChinese(codePoint) || !_uncased)
                {
                    // Cased text is not decomposed, and CJK ideographs are words of their own either way.
                    words.Take(kind, codePoint > 0xFFFF ? text.Slice(i - 1, 2) : text.Slice(i, 1));
                    continue;
                }

                // Uncased: the character's decomposition without accents, lower-cased; each part is then classified
                // again, since a decomposition can be punctuation (U+037E is ';').
                string stripped = BertTextRules.StripAccents(codePoint, lowercase: true);
                for (int p = 0; p < stripped.Length; p++)
                {
                    int width = char.IsHighSurrogate(stripped[p]) && p + 1 < stripped.Length ? 2 : 1;
                    int part = width == 2 ? char.ConvertToUtf32(stripped[p], stripped[p + 1]) : stripped[p];
                    words.Take(BertTextRules.Classify(part), stripped.AsSpan(p, width));
                    p += width - 1;
                }
            }
            words.EndWord();
        }
        finally
        {
            words.Dispose();
        }
    }

    /// <summary>Gathers the normalized characters of the word being read and hands each finished word to WordPiece.</summary>
    private ref struct WordReader
    {
        private readonly BertWordPieceTokenizer _tokenizer;
        private readonly TokenBuffer _output;
        private Span<char> _word;
        private char[]? _rented;
        private int _length;
        private int _characters;

        public WordReader(BertWordPieceTokenizer tokenizer, TokenBuffer output, Span<char> buffer)
        {
            _tokenizer = tokenizer;
            _output = output;
            _word = buffer;
        }

        /// <summary>What one character (its UTF-16 units in <paramref name="chars"/>) does: extends the word, ends it, or ends it and is a word itself.</summary>
        public void Take(BertTextRules.Kind kind, ReadOnlySpan<char> chars)
        {
            switch (kind)
            {
                case BertTextRules.Kind.Word:
                    foreach (char c in chars)
                    {
                        Append(c);
                    }
                    EndCharacter();
                    break;
                case BertTextRules.Kind.Space:
                    EndWord();
                    break;
                case BertTextRules.Kind.Isolated:
                    EndWord();
                    _tokenizer.Flush(chars, 1, _output);
                    break;
            }
        }

        /// <summary>Adds one UTF-16 unit to the word (a word is rarely long; a giant one only costs a rent).</summary>
        public void Append(char c)
        {
            if (_length == _word.Length)
            {
                char[] larger = ArrayPool<char>.Shared.Rent(_word.Length * 2);
                _word[.._length].CopyTo(larger);
                if (_rented is not null)
                {
                    ArrayPool<char>.Shared.Return(_rented);
                }
                _rented = larger;
                _word = larger;
            }
            _word[_length++] = c;
        }

        /// <summary>Counts one character (code point) of the word, for the 100-character limit.</summary>
        public void EndCharacter() => _characters++;

        /// <summary>Hands the word read so far to WordPiece and starts the next.</summary>
        public void EndWord()
        {
            _tokenizer.Flush(_word[.._length], _characters, _output);
            _length = _characters = 0;
        }

        public void Dispose()
        {
            if (_rented is not null)
            {
                ArrayPool<char>.Shared.Return(_rented);
                _rented = null;
            }
        }
    }

    /// <summary>Greedy longest-match-first WordPiece of one normalized word; <c>[UNK]</c> when any part has no match.</summary>
    private void Flush(ReadOnlySpan<char> word, int characters, TokenBuffer output)
    {
        if (word.IsEmpty)
        {
            return;
        }
        if (characters > MaxInputCharsPerWord)
        {
            output.Add(_unknown);
            return;
        }
        if (_words.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        int mark = output.Count;
        int start = 0;
        while (start < word.Length)
        {
            var lookup = start == 0 ? _words : _continuations;
            int end = Math.Min(word.Length, start + (start == 0 ? _longestWord : _longestContinuation));
            if (end < word.Length && char.IsLowSurrogate(word[end]))
            {
                end--;
            }
            int found = -1;
            while (end > start)
            {
                if (lookup.TryGetValue(word[start..end], out found))
                {
                    break;
                }
                found = -1;
                end -= end - 1 > start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (found < 0)
            {
                output.Truncate(mark);
                output.Add(_unknown);
                return;
            }
            output.Add(found);
            start = end;
        }
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length * 5);
        foreach (int id in ids)
        {
            string token = IdToToken(id);
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
            {
                text.Append(token, ContinuationPrefix.Length, token.Length - ContinuationPrefix.Length);
                continue;
            }
            if (text.Length > 0)
            {
                text.Append(' ');
            }
            text.Append(token);
        }
        return text.ToString();
    }

    public string IdToToken(int id) =>
        (uint)id < (uint)_tokens.Length ? _tokens[id] : throw new ArgumentOutOfRangeException(nameof(id), id, $"Id outside the vocabulary of {Name} (size {_tokens.Length}).");

    private static int Id(Dictionary<string, int> words, string token) => words.TryGetValue(token, out int id) ? id : -1;
}
