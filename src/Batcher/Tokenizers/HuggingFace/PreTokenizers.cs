using System.Text.Json;
using System.Text.RegularExpressions;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>A piece of text: a range of a string, so that splitting copies nothing.</summary>
internal readonly record struct Piece(string Text, int Start, int Length)
{
    public ReadOnlySpan<char> Span => Text.AsSpan(Start, Length);

    public static Piece Of(string text) => new(text, 0, text.Length);
}

/// <summary>A <c>tokenizer.json</c> pre-tokenizer: splits each piece of text into smaller pieces, in order.</summary>
internal interface IPreTokenizer
{
    void Split(Piece piece, List<Piece> output);
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

    /// <summary>Cuts <paramref name="piece"/> at the matches (Hugging Face's <c>NormalizedString::split</c>); empty pieces are dropped.</summary>
    internal static void Cut(Piece piece, List<(int Start, int End, bool IsMatch)> spans, Behavior behavior, bool invert, List<Piece> output)
    {
        if (invert)
        {
            for (int i = 0; i < spans.Count; i++)
            {
                spans[i] = spans[i] with { IsMatch = !spans[i].IsMatch };
            }
        }
        int first = output.Count;
        bool previousMatch = false;
        void Add(int start, int end)
        {
            if (end > start)
            {
                output.Add(new Piece(piece.Text, piece.Start + start, end - start));
            }
        }
        void Extend(int index, int start, int end)
        {
            Piece last = output[index];
            int from = Math.Min(last.Start, piece.Start + start);
            int to = Math.Max(last.Start + last.Length, piece.Start + end);
            output[index] = new Piece(piece.Text, from, to - from);
        }
        switch (behavior)
        {
            case Behavior.Isolated:
                foreach ((int start, int end, _) in spans)
                {
                    Add(start, end);
                }
                break;
            case Behavior.Removed:
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (!isMatch)
                    {
                        Add(start, end);
                    }
                }
                break;
            case Behavior.MergedWithPrevious:
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch && !previousMatch && output.Count > first)
                    {
                        Extend(output.Count - 1, start, end);
                    }
                    else
                    {
                        Add(start, end);
                    }
                    previousMatch = isMatch;
                }
                break;
            case Behavior.MergedWithNext:
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    (int start, int end, bool isMatch) = spans[i];
                    if (isMatch && !previousMatch && output.Count > first)
                    {
                        Extend(output.Count - 1, start, end);
                    }
                    else
                    {
                        Add(start, end);
                    }
                    previousMatch = isMatch;
                }
                output.Reverse(first, output.Count - first);
                break;
            case Behavior.Contiguous:
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch == previousMatch && output.Count > first)
                    {
                        Extend(output.Count - 1, start, end);
                    }
                    else
                    {
                        Add(start, end);
                    }
                    previousMatch = isMatch;
                }
                break;
        }
    }

    [ThreadStatic]
    private static List<(int, int, bool)>? t_spans;

    /// <summary>The matches of <paramref name="regex"/> (or of a literal) and the text between them, covering the piece; offsets are the piece's.</summary>
    internal static List<(int Start, int End, bool IsMatch)> Spans(Piece piece, Regex? regex, string? literal)
    {
        List<(int, int, bool)> spans = t_spans ??= new List<(int, int, bool)>(64);
        spans.Clear();
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
        ReadOnlySpan<char> text = piece.Span;
        if (regex is not null)
        {
            if (AstralStandIns.Replace(text) is ({ } standIn, { } offsets))
            {
                foreach (ValueMatch match in regex.EnumerateMatches(standIn))
                {
                    Add(offsets[match.Index], offsets[match.Index + match.Length]);
                }
            }
            else
            {
                foreach (ValueMatch match in regex.EnumerateMatches(text))
                {
                    Add(match.Index, match.Index + match.Length);
                }
            }
        }
        else if (!string.IsNullOrEmpty(literal))
        {
            for (int at = text.IndexOf(literal, StringComparison.Ordinal); at >= 0;)
            {
                Add(at, at + literal.Length);
                int next = text[(at + literal.Length)..].IndexOf(literal, StringComparison.Ordinal);
                at = next < 0 ? -1 : at + literal.Length + next;
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
        [ThreadStatic]
        private static (List<Piece>, List<Piece>)? t_lists;

        public void Split(Piece piece, List<Piece> output)
        {
            (List<Piece> current, List<Piece> next) = t_lists ??= ([], []);
            current.Clear();
            current.Add(piece);
            foreach (IPreTokenizer step in steps)
            {
                next.Clear();
                foreach (Piece part in current)
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

        public void Split(Piece piece, List<Piece> output) => Cut(piece, Spans(piece, regex, literal), behavior, invert, output);
    }

    /// <summary>The prefix space and GPT-2's split; the bytes become the byte-level alphabet in the model step.</summary>
    private sealed class ByteLevelPreTokenizer(bool addPrefixSpace, Regex? regex) : IPreTokenizer
    {
        public void Split(Piece piece, List<Piece> output)
        {
            if (addPrefixSpace && (piece.Length == 0 || piece.Span[0] != ' '))
            {
                piece = Piece.Of(" " + piece.Span.ToString());
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

        public void Split(Piece piece, List<Piece> output)
        {
            string text = piece.Span.ToString().Replace(" ", replacement, StringComparison.Ordinal);
            if (scheme == "always" && !text.StartsWith(replacement, StringComparison.Ordinal))
            {
                text = replacement + text;
            }
            if (split)
            {
                Cut(Piece.Of(text), Spans(Piece.Of(text), null, replacement), Behavior.MergedWithNext, invert: false, output);
            }
            else
            {
                output.Add(Piece.Of(text));
            }
        }
    }
}
