using System.Text;
using System.Text.Json;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>A <c>tokenizer.json</c> decoder step: tokens in, tokens out (Hugging Face's <c>decode_chain</c>); the result is joined.</summary>
internal interface IDecoder
{
    List<string> Decode(List<string> tokens);
}

/// <summary>The decoders the published files use: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, WordPiece, Sequence.</summary>
internal static class Decoders
{
    public static IDecoder? Read(JsonElement json, string where)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        string type = json.GetProperty("type").GetString()!;
        return type switch
        {
            "Sequence" => new SequenceDecoder(json.GetProperty("decoders").EnumerateArray().Select(d => Read(d, where)).OfType<IDecoder>().ToArray()),
            "ByteLevel" => new ByteLevelDecoder(),
            "Replace" => new ReplaceDecoder(json.GetProperty("pattern").GetProperty("String").GetString()!, json.GetProperty("content").GetString()!),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(json.GetProperty("content").GetString()![0], json.GetProperty("start").GetInt32(), json.GetProperty("stop").GetInt32()),
            "Metaspace" => new MetaspaceDecoder(json.GetProperty("replacement").GetString()!),
            "WordPiece" => new WordPieceDecoder(json.TryGetProperty("prefix", out JsonElement p) ? p.GetString()! : "##"),
            _ => throw new NotSupportedException($"{where}: decoder '{type}' is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, WordPiece)."),
        };
    }

    private sealed class SequenceDecoder(IDecoder[] steps) : IDecoder
    {
        public List<string> Decode(List<string> tokens)
        {
            foreach (IDecoder step in steps)
            {
                tokens = step.Decode(tokens);
            }
            return tokens;
        }
    }

    /// <summary>The byte-level alphabet back to bytes, then UTF-8 (invalid sequences become U+FFFD); a token with a character outside the alphabet stays as it is.</summary>
    private sealed class ByteLevelDecoder : IDecoder
    {
        public List<string> Decode(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (string token in tokens)
            {
                bool inAlphabet = token.All(c => c < ByteLevelAlphabet.CharToByte.Length && ByteLevelAlphabet.CharToByte[c] >= 0);
                if (inAlphabet)
                {
                    bytes.AddRange(token.Select(c => (byte)ByteLevelAlphabet.CharToByte[c]));
                }
                else
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                }
            }
            return [Encoding.UTF8.GetString(bytes.ToArray())];
        }
    }

    private sealed class ReplaceDecoder(string pattern, string content) : IDecoder
    {
        public List<string> Decode(List<string> tokens) => tokens.Select(t => t.Replace(pattern, content, StringComparison.Ordinal)).ToList();
    }

    /// <summary>Runs of &lt;0xXX&gt; tokens become their UTF-8 text, or one U+FFFD per byte when they are not valid UTF-8.</summary>
    private sealed class ByteFallbackDecoder : IDecoder
    {
        public List<string> Decode(List<string> tokens)
        {
            var output = new List<string>(tokens.Count);
            var pending = new List<byte>();
            void Flush()
            {
                if (pending.Count == 0)
                {
                    return;
                }
                try
                {
                    output.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(pending.ToArray()));
                }
                catch (DecoderFallbackException)
                {
                    output.Add(string.Concat(Enumerable.Repeat("\uFFFD", pending.Count)));
                }
                pending.Clear();
            }
            foreach (string token in tokens)
            {
                if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                    byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out byte b))
                {
                    pending.Add(b);
                }
                else
                {
                    Flush();
                    output.Add(token);
                }
            }
            Flush();
            return output;
        }
    }

    private sealed class FuseDecoder : IDecoder
    {
        public List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
    }

    /// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token.</summary>
    private sealed class StripDecoder(char content, int start, int stop) : IDecoder
    {
        public List<string> Decode(List<string> tokens) => tokens.Select(token =>
        {
            int from = 0;
            while (from < start && from < token.Length && token[from] == content)
            {
                from++;
            }
            int to = token.Length;
            while (token.Length - to < stop && to > from && token[to - 1] == content)
            {
                to--;
            }
            return token[from..to];
        }).ToList();
    }

    private sealed class MetaspaceDecoder(string replacement) : IDecoder
    {
        public List<string> Decode(List<string> tokens) => tokens.Select((t, i) =>
        {
            string text = t.Replace(replacement, " ", StringComparison.Ordinal);
            return i == 0 && text.StartsWith(' ') ? text[1..] : text;
        }).ToList();
    }

    private sealed class WordPieceDecoder(string prefix) : IDecoder
    {
        public List<string> Decode(List<string> tokens) => tokens.Select((t, i) => t.StartsWith(prefix, StringComparison.Ordinal) ? t[prefix.Length..] : i == 0 ? t : " " + t).ToList();
    }
}
