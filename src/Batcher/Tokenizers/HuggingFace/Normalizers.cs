using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>A <c>tokenizer.json</c> normalizer: text in, text out, applied to each piece between added tokens.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}

/// <summary>The normalizers the published <c>tokenizer.json</c> files use, read from their JSON.</summary>
internal static class Normalizers
{
    public static INormalizer? Read(JsonElement json, string where)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        string type = json.GetProperty("type").GetString()!;
        return type switch
        {
            "Sequence" => new SequenceNormalizer(json.GetProperty("normalizers").EnumerateArray().Select(n => Read(n, where)).OfType<INormalizer>().ToArray()),
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "StripAccents" => new StripAccentsNormalizer(),
            "Replace" => ReplaceNormalizer.Read(json, where),
            "Prepend" => new PrependNormalizer(json.GetProperty("prepend").GetString()!),
            "Strip" => new StripNormalizer(json.GetProperty("strip_left").GetBoolean(), json.GetProperty("strip_right").GetBoolean()),
            _ => throw new NotSupportedException($"{where}: normalizer '{type}' is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Replace, Prepend, Strip)."),
        };
    }

    private sealed class SequenceNormalizer(INormalizer[] steps) : INormalizer
    {
        public string Normalize(string text)
        {
            foreach (INormalizer step in steps)
            {
                text = step.Normalize(text);
            }
            return text;
        }
    }

    private sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
    {
        public string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
    }

    private sealed class LowercaseNormalizer : INormalizer
    {
        public string Normalize(string text) => text.ToLowerInvariant();
    }

    /// <summary>Removes combining marks (Unicode category Mn), as Hugging Face's StripAccents does after an NFD.</summary>
    private sealed class StripAccentsNormalizer : INormalizer
    {
        public string Normalize(string text)
        {
            var output = new StringBuilder(text.Length);
            foreach (Rune rune in text.EnumerateRunes())
            {
                if (Rune.GetUnicodeCategory(rune) != System.Globalization.UnicodeCategory.NonSpacingMark)
                {
                    output.Append(rune.ToString());
                }
            }
            return output.ToString();
        }
    }

    /// <summary>Prepends its text to a non-empty piece (SentencePiece's "▁" before the first word).</summary>
    private sealed class PrependNormalizer(string prefix) : INormalizer
    {
        public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    private sealed class StripNormalizer(bool left, bool right) : INormalizer
    {
        public string Normalize(string text) => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
    }

    private sealed class ReplaceNormalizer(Regex? pattern, string? literal, string content) : INormalizer
    {
        public static ReplaceNormalizer Read(JsonElement json, string where)
        {
            JsonElement pattern = json.GetProperty("pattern");
            string content = json.GetProperty("content").GetString()!;
            return pattern.TryGetProperty("String", out JsonElement s)
                ? new ReplaceNormalizer(null, s.GetString()!, content)
                : new ReplaceNormalizer(PatternRegex.Create(pattern.GetProperty("Regex").GetString()!, where), null, content);
        }

        public string Normalize(string text) => literal is not null
            ? (literal.Length == 0 ? text : text.Replace(literal, content, StringComparison.Ordinal))
            : pattern!.Replace(text, content.Replace("$", "$$", StringComparison.Ordinal));
    }
}
