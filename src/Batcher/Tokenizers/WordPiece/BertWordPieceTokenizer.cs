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
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _words;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuations;
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
        _words = words.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuations = continuations.GetAlternateLookup<ReadOnlySpan<char>>();
        _unknown = Id(words, "[UNK]");
        Special = new SpecialTokens(Id(words, "[PAD]"), _unknown, Id(words, "[CLS]"), Id(words, "[SEP]"), Id(words, "[MASK]"));
    }

    public string Name { get; }

    public int VocabularySize => _tokens.Length;

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
        var present = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (string required in (string[])["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
        {
            if (!present.Contains(required))
            {
                throw new InvalidDataException($"{vocabPath}: a BERT vocabulary needs the token {required}, and this one lacks it.");
            }
        }
        return new BertWordPieceTokenizer($"wordpiece:{Path.GetFileName(vocabPath)}", tokens, uncased);
    }

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
    {
        // The normalized characters of the word being read; a word is rarely long, a giant one only costs a rent.
        char[]? rented = null;
        Span<char> word = stackalloc char[256];
        int length = 0;
        int characters = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 128)
            {
                switch (BertTextRules.Ascii(c))
                {
                    case BertTextRules.Kind.Word:
                        Append(ref word, ref rented, ref length, _uncased && char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c);
                        characters++;
                        continue;
                    case BertTextRules.Kind.Space:
                        Flush(word[..length], characters, output);
                        length = characters = 0;
                        continue;
                    case BertTextRules.Kind.Isolated:
                        Flush(word[..length], characters, output);
                        length = characters = 0;
                        Flush([c], 1, output);
                        continue;
                    default:
                        continue;
                }
            }

            int codePoint = c;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                codePoint = char.ConvertToUtf32(c, text[++i]);
            }
            BertTextRules.Kind kind = BertTextRules.Classify(codePoint);
            if (kind == BertTextRules.Kind.Removed)
            {
                continue;
            }
            if (kind == BertTextRules.Kind.Space)
            {
                Flush(word[..length], characters, output);
                length = characters = 0;
                continue;
            }
            if (BertTextRules.IsChinese(codePoint) || !_uncased)
            {
                // Cased text is not decomposed, and CJK ideographs are words of their own either way.
                ReadOnlySpan<char> chars = codePoint > 0xFFFF ? text.Slice(i - 1, 2) : text.Slice(i, 1);
                if (kind == BertTextRules.Kind.Isolated)
                {
                    Flush(word[..length], characters, output);
                    length = characters = 0;
                    Flush(chars, 1, output);
                }
                else
                {
                    foreach (char part in chars)
                    {
                        Append(ref word, ref rented, ref length, part);
                    }
                    characters++;
                }
                continue;
            }

            // Uncased: the character's decomposition without accents, lower-cased; each part is then classified
            // again, since a decomposition can be punctuation (U+037E is ';').
            string stripped = BertTextRules.StripAccents(codePoint, lowercase: true);
            for (int p = 0; p < stripped.Length; p++)
            {
                int part = stripped[p];
                int width = 1;
                if (char.IsHighSurrogate(stripped[p]) && p + 1 < stripped.Length)
                {
                    part = char.ConvertToUtf32(stripped[p], stripped[p + 1]);
                    width = 2;
                }
                switch (BertTextRules.Classify(part))
                {
                    case BertTextRules.Kind.Word:
                        for (int k = 0; k < width; k++)
                        {
                            Append(ref word, ref rented, ref length, stripped[p + k]);
                        }
                        characters++;
                        break;
                    case BertTextRules.Kind.Space:
                        Flush(word[..length], characters, output);
                        length = characters = 0;
                        break;
                    case BertTextRules.Kind.Isolated:
                        Flush(word[..length], characters, output);
                        length = characters = 0;
                        Flush(stripped.AsSpan(p, width), 1, output);
                        break;
                }
                p += width - 1;
            }
        }
        Flush(word[..length], characters, output);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static void Append(ref Span<char> word, ref char[]? rented, ref int length, char c)
    {
        if (length == word.Length)
        {
            char[] larger = ArrayPool<char>.Shared.Rent(word.Length * 2);
            word[..length].CopyTo(larger);
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
            rented = larger;
            word = larger;
        }
        word[length++] = c;
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
