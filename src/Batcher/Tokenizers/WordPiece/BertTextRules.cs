using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace StreamLoader.Batcher.Tokenizers.WordPiece;

/// <summary>
/// Hugging Face's BERT normalizer and pre-tokenizer rules, per character: what is removed, what separates words,
/// what is a word of its own, and how a character is lower-cased and stripped of accents.
/// </summary>
/// <remarks>
/// The rules are those of <c>tokenizers</c>' <c>BertNormalizer</c> (clean text, Chinese characters, strip accents,
/// lowercase) and <c>BertPreTokenizer</c> (split on whitespace, isolate punctuation), where punctuation is every ASCII
/// non-alphanumeric printable character plus Unicode's P* categories, and "control" is Unicode's C* categories except
/// tab, line feed and carriage return.
/// </remarks>
internal static class BertTextRules
{
    /// <summary>What a character does in BERT's pre-tokenization.</summary>
    public enum Kind : byte
    {
        /// <summary>Part of a word.</summary>
        Word,

        /// <summary>Removed by the normalizer's clean-text step (NUL, U+FFFD, control and format characters).</summary>
        Removed,

        /// <summary>Separates words and is dropped.</summary>
        Space,

        /// <summary>A word of its own (punctuation, CJK ideographs).</summary>
        Isolated,
    }

    private static readonly Kind[] s_ascii = BuildAscii();
    private static readonly ConcurrentDictionary<int, string> s_stripped = new();

    /// <summary>The kind of an ASCII character (below 128).</summary>
    public static Kind Ascii(char c) => s_ascii[c];

    /// <summary>The kind of any code point, before accents are stripped.</summary>
    public static Kind Classify(int codePoint)
    {
        if (codePoint < 128)
        {
            return s_ascii[codePoint];
        }
        if (codePoint == 0xFFFD)
        {
            return Kind.Removed;
        }
        UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
        switch (category)
        {
            case UnicodeCategory.Control:
            case UnicodeCategory.Format:
            case UnicodeCategory.Surrogate:
            case UnicodeCategory.PrivateUse:
            case UnicodeCategory.OtherNotAssigned:
                return Kind.Removed;
            case UnicodeCategory.SpaceSeparator:
            case UnicodeCategory.LineSeparator:
            case UnicodeCategory.ParagraphSeparator:
                return Kind.Space;
            case UnicodeCategory.ConnectorPunctuation:
            case UnicodeCategory.DashPunctuation:
            case UnicodeCategory.OpenPunctuation:
            case UnicodeCategory.ClosePunctuation:
            case UnicodeCategory.InitialQuotePunctuation:
            case UnicodeCategory.FinalQuotePunctuation:
            case UnicodeCategory.OtherPunctuation:
                return Kind.Isolated;
        }
        return IsChinese(codePoint) ? Kind.Isolated : Kind.Word;
    }

    /// <summary>The CJK ideograph blocks BERT puts spaces around.</summary>
    public static bool IsChinese(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
        (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);

    /// <summary>
    /// A non-ASCII code point after canonical decomposition with its nonspacing marks removed (and lower-cased when
    /// <paramref name="lowercase"/>): the uncased BERT normalizer's output for it. Decompositions come from a table
    /// generated once from ICU (<see cref="StripAccentsTable"/>) and Hangul's algorithm, so no ICU is needed at run
    /// time (the console runs with invariant globalization). Cached: text has few distinct characters.
    /// </summary>
    public static string StripAccents(int codePoint, bool lowercase)
    {
        int key = lowercase ? codePoint : -codePoint - 1;
        return s_stripped.GetOrAdd(key, static (k, lower) =>
        {
            int cp = k >= 0 ? k : -k - 1;
            string decomposed = Decompose(cp);
            var kept = new StringBuilder(decomposed.Length);
            for (int i = 0; i < decomposed.Length; i += char.IsSurrogatePair(decomposed, i) ? 2 : 1)
            {
                int part = char.ConvertToUtf32(decomposed, i);
                if (CharUnicodeInfo.GetUnicodeCategory(part) == UnicodeCategory.NonSpacingMark)
                {
                    continue;
                }
                kept.Append(lower ? Lower(part) : char.ConvertFromUtf32(part));
            }
            return kept.ToString();
        }, lowercase);
    }

    /// <summary>The canonical decomposition of a code point, without nonspacing marks where the table holds it.</summary>
    private static string Decompose(int cp)
    {
        const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, VCount = 21, TCount = 28, SCount = 11172;
        int s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            // Hangul syllables decompose into their jamo (Unicode 3.12).
            var jamo = new StringBuilder(3).Append((char)(LBase + (s / (VCount * TCount)))).Append((char)(VBase + (s % (VCount * TCount) / TCount)));
            if (s % TCount != 0)
            {
                jamo.Append((char)(TBase + (s % TCount)));
            }
            return jamo.ToString();
        }
        return StripAccentsTable.Decompositions.TryGetValue(cp, out string? decomposed) ? decomposed : char.ConvertFromUtf32(cp);
    }

    /// <summary>A code point lower-cased as Rust's <c>char::to_lowercase</c> does (İ becomes i and a combining dot).</summary>
    public static string Lower(int codePoint) =>
        codePoint == 0x130 ? "i\u0307" : Rune.ToLowerInvariant(new Rune(codePoint)).ToString();

    private static Kind[] BuildAscii()
    {
        var kinds = new Kind[128];
        for (int c = 0; c < 128; c++)
        {
            kinds[c] = c switch
            {
                '\t' or '\n' or '\r' or ' ' => Kind.Space,
                0 or < 0x20 or 0x7F => Kind.Removed,
                _ when char.IsAsciiLetterOrDigit((char)c) => Kind.Word,
                _ => Kind.Isolated,
            };
        }
        return kinds;
    }
}
