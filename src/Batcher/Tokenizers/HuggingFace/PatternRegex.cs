using System.Text.RegularExpressions;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>The regexes of <c>tokenizer.json</c> files (written for Rust's Oniguruma and fancy-regex) as .NET regexes.</summary>
internal static class PatternRegex
{
    public static Regex Create(string pattern, string where)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException ex)
        {
            throw new NotSupportedException($"{where}: the pattern /{pattern}/ is not one .NET can run: {ex.Message}", ex);
        }
    }
}
