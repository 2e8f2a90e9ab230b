using System.Text.Json;
using System.Text.RegularExpressions;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>A <c>tokenizer.json</c> pre-tokenizer: splits each piece of text into smaller pieces, in order.</summary>
internal interface IPreTokenizer
{
    void Split(string piece, List<string> output);
}

/// <summary>The pre-tokenizers the published <c>tokenizer.json</c> files use, with Hugging Face's split behaviours.</summary>
internal static class PreTokenizers
{
    /// <summary>GPT-2's pattern, which the ByteLevel pre-tokenizer applies when <c>use_regex</c> is set.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static IPreTokenizer? Read(JsonElement json, string where, out bool byteLevel)
    {
        byteLevel = false;
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        string type = json.GetProperty("type").GetString()!;
        switch (type)
        {
            case "Sequence":
                var steps = new List<IPreTokenizer>();
                foreach (JsonElement step in json.GetProperty("pretokenizers").EnumerateArray())
                {
                    if (Read(step, where, out bool inner) is { } pre)
                    {
                        steps.Add(pre);
                    }
                    byteLevel |= inner;
                }
                return new SequencePreTokenizer(steps.ToArray());
            case "Split":
                return SplitPreTokenizer.Read(json, where);
            case "ByteLevel":
                byteLevel = true;
                return new ByteLevelPreTokenizer(
                    json.TryGetProperty("add_prefix_space", out JsonElement prefix) && prefix.GetBoolean(),
                    !json.TryGetProperty("use_regex", out JsonElement regex) || regex.GetBoolean() ? PatternRegex.Create(Gpt2Pattern, where) : null);
            case "Whitespace":
                return new SplitPreTokenizer(PatternRegex.Create(@"\w+|[^\w\s]+", where), null, Behavior.Removed, invert: true);
            case "WhitespaceSplit":
                return new SplitPreTokenizer(PatternRegex.Create(@"\s+", where), null, Behavior.Removed, invert: false);
            case "Digits":
                return new SplitPreTokenizer(PatternRegex.Create(json.TryGetProperty("individual_digits", out JsonElement single) && single.GetBoolean() ? @"\p{Nd}" : @"\p{Nd}+", where), null, Behavior.Isolated, invert: false);
            case "Punctuation":
                return new SplitPreTokenizer(PatternRegex.Create(@"\p{P}", where), null, ReadBehavior(json.TryGetProperty("behavior", out JsonElement b) ? b.GetString() : "Isolated", where), invert: false);
            case "Metaspace":
                return MetaspacePreTokenizer.Read(json);
            default:
                throw new NotSupportedException($"{where}: pre-tokenizer '{type}' is not supported (supported: Sequence, Split, ByteLevel, Whitespace, WhitespaceSplit, Digits, Punctuation, Metaspace).");
        }
    }

    internal enum Behavior
    {
        Removed,
        Isolated,
        MergedWithPrevious,
        MergedWithNext,
        Contiguous,
    }

    private static Behavior ReadBehavior(string? name, string where) => name switch
    {
        "Removed" => Behavior.Removed,
        "Isolated" => Behavior.Isolated,
        "MergedWithPrevious" => Behavior.MergedWithPrevious,
        "MergedWithNext" => Behavior.MergedWithNext,
        "Contiguous" => Behavior.Contiguous,
        _ => throw new NotSupportedException($"{where}: split behavior '{name}' is unknown."),
    };

    /// <summary>Cuts <paramref name="text"/> at the matches (Hugging Face's <c>NormalizedString::split</c>); empty pieces are dropped.</summary>
    internal static void Cut(string text, List<(int Start, int End, bool IsMatch)> spans, Behavior behavior, bool invert, List<string> output)
    {
        if (invert)
        {
            for (int i = 0; i < spans.Count; i++)
            {
                spans[i] = spans[i] with { IsMatch = !spans[i].IsMatch };
            }
        }
        var pieces = new List<(int Start, int End)>(spans.Count);
        bool previousMatch = false;
        switch (behavior)
        {
            case Behavior.Isolated:
                pieces.AddRange(spans.Select(s => (s.Start, s.End)));
                break;
            case Behavior.Removed:
                pieces.AddRange(spans.Where(s => !s.IsMatch).Select(s => (s.Start, s.End)));
                break;
            case Behavior.MergedWithPrevious:
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch && !previousMatch && pieces.Count > 0)
                    {
                        pieces[^1] = (pieces[^1].Start, end);
                    }
                    else
                    {
                        pieces.Add((start, end));
                    }
                    previousMatch = isMatch;
                }
                break;
            case Behavior.MergedWithNext:
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    (int start, int end, bool isMatch) = spans[i];
                    if (isMatch && !previousMatch && pieces.Count > 0)
                    {
                        pieces[^1] = (start, pieces[^1].End);
                    }
                    else
                    {
                        pieces.Add((start, end));
                    }
                    previousMatch = isMatch;
                }
                pieces.Reverse();
                break;
            case Behavior.Contiguous:
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch == previousMatch && pieces.Count > 0)
                    {
                        pieces[^1] = (pieces[^1].Start, end);
                    }
                    else
                    {
                        pieces.Add((start, end));
                    }
                    previousMatch = isMatch;
                }
                break;
        }
        foreach ((int start, int end) in pieces)
        {
            if (end > start)
            {
                output.Add(start == 0 && end == text.Length ? text : text[start..end]);
            }
        }
    }

    /// <summary>The matches of <paramref name="regex"/> (or of a literal) and the text between them, covering <paramref name="text"/>.</summary>
    internal static List<(int Start, int End, bool IsMatch)> Spans(string text, Regex? regex, string? literal)
    {
        var spans = new List<(int, int, bool)>();
        int previous = 0;
        void Add(int start, int end)
        {
            if (previous != start)
            {
                spans.Add((previous, start, false));
            }
            spans.Add((start, end, true));
            previous = end;
        }
        if (regex is not null)
        {
            (string Text, int[] Offsets)? standIns = AstralStandIns.Replace(text);
            for (Match match = regex.Match(standIns?.Text ?? text); match.Success; match = match.NextMatch())
            {
                if (standIns is { Offsets: var offsets })
                {
                    Add(offsets[match.Index], offsets[match.Index + match.Length]);
                }
                else
                {
                    Add(match.Index, match.Index + match.Length);
                }
            }
        }
        else if (!string.IsNullOrEmpty(literal))
        {
            for (int at = text.IndexOf(literal, StringComparison.Ordinal); at >= 0; at = text.IndexOf(literal, at + literal.Length, StringComparison.Ordinal))
            {
                Add(at, at + literal.Length);
            }
        }
        if (previous != text.Length)
        {
            spans.Add((previous, text.Length, false));
        }
        return spans;
    }

    private sealed class SequencePreTokenizer(IPreTokenizer[] steps) : IPreTokenizer
    {
        public void Split(string piece, List<string> output)
        {
            var current = new List<string> { piece };
            var next = new List<string>();
            foreach (IPreTokenizer step in steps)
            {
                next.Clear();
                foreach (string part in current)
                {
                    step.Split(part, next);
                }
                (current, next) = (next, current);
            }
            output.AddRange(current);
        }
    }

    internal sealed class SplitPreTokenizer(Regex? regex, string? literal, Behavior behavior, bool invert) : IPreTokenizer
    {
        public static SplitPreTokenizer Read(JsonElement json, string where)
        {
            JsonElement pattern = json.GetProperty("pattern");
            Behavior behavior = ReadBehavior(json.GetProperty("behavior").GetString(), where);
            bool invert = json.TryGetProperty("invert", out JsonElement i) && i.GetBoolean();
            return pattern.TryGetProperty("String", out JsonElement s)
                ? new SplitPreTokenizer(null, s.GetString()!, behavior, invert)
                : new SplitPreTokenizer(PatternRegex.Create(pattern.GetProperty("Regex").GetString()!, where), null, behavior, invert);
        }

        public void Split(string piece, List<string> output) => Cut(piece, Spans(piece, regex, literal), behavior, invert, output);
    }

    /// <summary>The prefix space and GPT-2's split; the bytes become the byte-level alphabet in the model step.</summary>
    private sealed class ByteLevelPreTokenizer(bool addPrefixSpace, Regex? regex) : IPreTokenizer
    {
        public void Split(string piece, List<string> output)
        {
            if (addPrefixSpace && !piece.StartsWith(' '))
            {
                piece = " " + piece;
            }
            if (regex is null)
            {
                output.Add(piece);
            }
            else
            {
                Cut(piece, Spans(piece, regex, null), Behavior.Isolated, invert: false, output);
            }
        }
    }

    /// <summary>SentencePiece's spaces: ' ' becomes the replacement ("▁"), prepended per the scheme, split before each.</summary>
    private sealed class MetaspacePreTokenizer(string replacement, string scheme, bool split) : IPreTokenizer
    {
        public static MetaspacePreTokenizer Read(JsonElement json)
        {
            string scheme = json.TryGetProperty("prepend_scheme", out JsonElement s) ? s.GetString()! : json.TryGetProperty("add_prefix_space", out JsonElement a) && !a.GetBoolean() ? "never" : "always";
            if (scheme is not ("always" or "never"))
            {
                // "first" prepends only before the text's first piece, which this pre-tokenizer does not see.
                throw new NotSupportedException($"Metaspace prepend_scheme '{scheme}' is not supported (supported: always, never).");
            }
            return new MetaspacePreTokenizer(json.GetProperty("replacement").GetString()!, scheme, !json.TryGetProperty("split", out JsonElement sp) || sp.GetBoolean());
        }

        public void Split(string piece, List<string> output)
        {
            piece = piece.Replace(" ", replacement, StringComparison.Ordinal);
            bool prepend = scheme == "always";
            if (prepend && !piece.StartsWith(replacement, StringComparison.Ordinal))
            {
                piece = replacement + piece;
            }
            if (split)
            {
                Cut(piece, Spans(piece, null, replacement), Behavior.MergedWithNext, invert: false, output);
            }
            else
            {
                output.Add(piece);
            }
        }
    }
}
