using System.Globalization;
using System.Text;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// .NET's regex engine matches UTF-16 code units, so a letter outside the Basic Multilingual Plane (𐤀, 𝑥, 𠀀) is two
/// surrogates to <c>\p{L}</c>, where Rust's engines see one letter. Before a pattern runs, each such character is
/// replaced by one BMP character of the same Unicode category that no published pattern names; the matches are then
/// mapped back to the original text's offsets.
/// </summary>
internal static class AstralStandIns
{
    private static readonly char[] s_byCategory = Build();

    private static char[] Build()
    {
        var map = new char[32];
        void Set(UnicodeCategory category, char c) => map[(int)category] = c;
        Set(UnicodeCategory.UppercaseLetter, '\u0391');         // Greek capital alpha
        Set(UnicodeCategory.LowercaseLetter, '\u03B1');         // Greek small alpha
        Set(UnicodeCategory.TitlecaseLetter, '\u01C5');
        Set(UnicodeCategory.ModifierLetter, '\u02B0');
        Set(UnicodeCategory.OtherLetter, '\u05D0');             // Hebrew alef
        Set(UnicodeCategory.NonSpacingMark, '\u0301');
        Set(UnicodeCategory.SpacingCombiningMark, '\u0903');
        Set(UnicodeCategory.EnclosingMark, '\u20DD');
        Set(UnicodeCategory.DecimalDigitNumber, '\u0660');      // Arabic-Indic zero
        Set(UnicodeCategory.LetterNumber, '\u2160');
        Set(UnicodeCategory.OtherNumber, '\u00B2');
        Set(UnicodeCategory.SpaceSeparator, '\u2002');
        Set(UnicodeCategory.LineSeparator, '\u2028');
        Set(UnicodeCategory.ParagraphSeparator, '\u2029');
        Set(UnicodeCategory.Control, '\u0085');
        Set(UnicodeCategory.Format, '\u00AD');
        Set(UnicodeCategory.Surrogate, '\uD800');
        Set(UnicodeCategory.PrivateUse, '\uE000');
        Set(UnicodeCategory.ConnectorPunctuation, '\u203F');
        Set(UnicodeCategory.DashPunctuation, '\u2010');
        Set(UnicodeCategory.OpenPunctuation, '\u2045');
        Set(UnicodeCategory.ClosePunctuation, '\u2046');
        Set(UnicodeCategory.InitialQuotePunctuation, '\u00AB');
        Set(UnicodeCategory.FinalQuotePunctuation, '\u00BB');
        Set(UnicodeCategory.OtherPunctuation, '\u00B7');
        Set(UnicodeCategory.MathSymbol, '\u00AC');
        Set(UnicodeCategory.CurrencySymbol, '\u00A2');
        Set(UnicodeCategory.ModifierSymbol, '\u00B4');
        Set(UnicodeCategory.OtherSymbol, '\u00A9');
        Set(UnicodeCategory.OtherNotAssigned, '\u0378');
        return map;
    }

    /// <summary>
    /// <paramref name="text"/> with each astral character as its stand-in, and for each position of the result the
    /// offset in <paramref name="text"/> it came from (one more entry, for the end); null when the text has none.
    /// </summary>
    public static (string Text, int[] Offsets)? Replace(ReadOnlySpan<char> text)
    {
        int first = text.IndexOfAnyInRange('\uD800', '\uDBFF');
        if (first < 0)
        {
            return null;
        }
        var builder = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(s_byCategory[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))]);
                i++;
            }
            else
            {
                builder.Append(text[i]);
            }
        }
        offsets.Add(text.Length);
        return (builder.ToString(), offsets.ToArray());
    }
}
