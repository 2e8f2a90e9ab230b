using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (the file a model page ships), read and run as the <c>tokenizers</c> library
/// runs it: added tokens split out first, then the normalizer, the pre-tokenizer and the BPE model on each piece.
/// </summary>
/// <remarks>
/// The special tokens tasks use come from <c>tokenizer_config.json</c> beside the file where there is one (its
/// <c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>unk_token</c>, <c>mask_token</c>), else from the
/// post-processor's template and the added tokens' names. A role the file has no token for is -1, and a task that
/// needs it says so (padding falls back to the end-of-text token).
/// </remarks>
public sealed class HuggingFaceTokenizer : ITextTokenizer
{
    private readonly BpeModel? _model;
    private readonly UnigramModel? _unigram;

    /// <summary>A BERT file's normalizer, pre-tokenizer and WordPiece model: StreamLoader's own WordPiece, which is Hugging Face's exactly.</summary>
    private readonly WordPiece.BertWordPieceTokenizer? _wordPiece;
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly bool _byteLevel;
    private readonly IDecoder? _decoder;
    private readonly AddedToken[] _raw;
    private readonly AddedToken[] _normalized;
    private readonly Dictionary<char, AddedToken[]> _rawByFirst;
    private readonly Dictionary<char, AddedToken[]> _normalizedByFirst;
    private readonly System.Buffers.SearchValues<char> _rawFirsts;
    private readonly System.Buffers.SearchValues<char> _normalizedFirsts;
    private readonly string[] _idToToken;
    private readonly int[] _before;
    private readonly int[] _after;
    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly Dictionary<string, int> _added;

    private sealed record AddedToken(int Id, string Content, bool SingleWord, bool LeftStrip, bool RightStrip, bool Normalized, bool Special);

    private HuggingFaceTokenizer(string path, JsonElement root, JsonElement? config, string sha256)
    {
        Sha256 = sha256;
        string where = path;
        JsonElement model = root.GetProperty("model");
        string type = model.TryGetProperty("type", out JsonElement t) ? t.GetString()! : "BPE";
        IReadOnlyDictionary<string, int> vocabulary;
        if (type == "WordPiece")
        {
            _wordPiece = ReadBertWordPiece(root, model, where, sha256);
            vocabulary = model.GetProperty("vocab").EnumerateObject().ToDictionary(e => e.Name, e => e.Value.GetInt32(), StringComparer.Ordinal);
        }
        else if (type == "BPE")
        {
            _model = BpeModel.Read(model, where);
            vocabulary = _model.Vocabulary;
        }
        else if (type == "Unigram")
        {
            _unigram = UnigramModel.Read(model, where);
            vocabulary = _unigram.Vocabulary;
        }
        else
        {
            throw new NotSupportedException($"{where}: model '{type}' is not supported (supported: BPE, Unigram, and WordPiece with BERT's normalizer and pre-tokenizer).");
        }
        if (type != "WordPiece")
        {
            _normalizer = root.TryGetProperty("normalizer", out JsonElement n) ? Normalizers.Read(n, where) : null;
            _preTokenizer = root.TryGetProperty("pre_tokenizer", out JsonElement p) ? PreTokenizers.Read(p, where, out _byteLevel) : null;
        }
        _decoder = root.TryGetProperty("decoder", out JsonElement d) ? Decoders.Read(d, where) : null;

        var added = new List<AddedToken>();
        foreach (JsonElement token in root.GetProperty("added_tokens").EnumerateArray())
        {
            added.Add(new AddedToken(token.GetProperty("id").GetInt32(), token.GetProperty("content").GetString()!, Flag(token, "single_word"), Flag(token, "lstrip"),
                Flag(token, "rstrip"), Flag(token, "normalized"), Flag(token, "special")));
        }
        _added = added.ToDictionary(a => a.Content, a => a.Id, StringComparer.Ordinal);
        _raw = added.Where(a => !a.Normalized).ToArray();
        _normalized = added.Where(a => a.Normalized).ToArray();
        _rawByFirst = ByFirst(_raw);
        _normalizedByFirst = ByFirst(_normalized);
        _rawFirsts = System.Buffers.SearchValues.Create([.. _rawByFirst.Keys]);
        _normalizedFirsts = System.Buffers.SearchValues.Create([.. _normalizedByFirst.Keys]);

        _vocabulary = vocabulary;
        int size = Math.Max(vocabulary.Values.DefaultIfEmpty(-1).Max(), added.Select(a => a.Id).DefaultIfEmpty(-1).Max()) + 1;
        var names = new string[size];
        foreach ((string token, int id) in vocabulary)
        {
            names[id] = token;
        }
        foreach (AddedToken token in added)
        {
            names[token.Id] = token.Content;
        }

        // Special roles: the config's names, then the template's, then the usual names; -1 where the file has none, so
        // that a task needing it says so. Padding falls back to the end-of-text token, as causal models' users set it.
        int Role(string configKey, params string[] fallbacks)
        {
            IEnumerable<string> candidates = (config is { } c && ConfigToken(c, configKey) is { } fromConfig ? [fromConfig] : Array.Empty<string>()).Concat(fallbacks);
            foreach (string candidate in candidates)
            {
                if (_added.TryGetValue(candidate, out int id) || vocabulary.TryGetValue(candidate, out id))
                {
                    return id;
                }
            }
            return -1;
        }
        string[] template = TemplateSpecials(root);
        (_before, _after) = PostProcessorIds(root, where);
        int cls = Role("bos_token", [.. template.Take(1), "<|begin_of_text|>", "<s>", "<bos>", "[CLS]", "<｜begin▁of▁sentence｜>", "<|startoftext|>"]);
        int sep = Role("eos_token", [.. template.Skip(1).TakeLast(1), "<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>", "[SEP]", "<｜end▁of▁sentence｜>"]);
        int pad = Role("pad_token", "<pad>", "[PAD]", "<|pad|>", "<|finetune_right_pad_id|>", "<｜▁pad▁｜>") is int p0 and >= 0 ? p0 : sep;
        int unk = Role("unk_token", "<unk>", "[UNK]", "<|unk|>");
        int mask = Role("mask_token", "<mask>", "[MASK]", "<|mask|>");
        Special = new SpecialTokens(pad, unk, cls, sep, mask);
        _idToToken = names;
        VocabularySize = _idToToken.Length;
        string folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))) ?? string.Empty;
        // The file's hash is part of the name a checkpoint records: a resume with another file of the same name is refused.
        Name = $"hf:{(folder.Length > 0 ? folder + "/" : string.Empty)}{Path.GetFileName(path)}@{sha256[..12]}";
    }

    /// <summary>
    /// Reads <paramref name="path"/>: a <c>tokenizer.json</c>, or a folder holding one (with its <c>tokenizer_config.json</c>).
    /// A model, normalizer, pre-tokenizer or decoder this reader does not support is an <see cref="ArgumentException"/>
    /// naming it and those it supports.
    /// </summary>
    public static HuggingFaceTokenizer Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file))
        {
            throw new FileNotFoundException(Directory.Exists(path) ? $"{path}: the folder has no tokenizer.json." : $"{path}: no such file.", file);
        }
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { MaxDepth = 256 });
        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "tokenizer_config.json");
        using JsonDocument? config = File.Exists(configPath) ? JsonDocument.Parse(File.ReadAllBytes(configPath)) : null;
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
        try
        {
            return new HuggingFaceTokenizer(file, document.RootElement, config?.RootElement, sha);
        }
        catch (NotSupportedException ex)
        {
            // A file that uses what this reader does not read is a choice to change (exit 2), not broken input.
            throw new ArgumentException(ex.Message, ex);
        }
    }

    /// <summary>
    /// A BERT file (BertNormalizer, BertPreTokenizer, WordPiece with "##" and [UNK], words of up to 100 characters):
    /// StreamLoader's WordPiece over the file's vocabulary. Another WordPiece configuration is not supported.
    /// </summary>
    private static WordPiece.BertWordPieceTokenizer ReadBertWordPiece(JsonElement root, JsonElement model, string where, string sha256)
    {
        JsonElement normalizer = root.GetProperty("normalizer");
        bool bert = normalizer.ValueKind == JsonValueKind.Object && normalizer.GetProperty("type").GetString() == "BertNormalizer"
            && Flag(normalizer, "clean_text") && Flag(normalizer, "handle_chinese_chars")
            && root.GetProperty("pre_tokenizer").ValueKind == JsonValueKind.Object && root.GetProperty("pre_tokenizer").GetProperty("type").GetString() == "BertPreTokenizer"
            && model.GetProperty("continuing_subword_prefix").GetString() == "##" && model.GetProperty("unk_token").GetString() == "[UNK]"
            && (!model.TryGetProperty("max_input_chars_per_word", out JsonElement max) || max.GetInt32() == 100);
        bool lowercase = Flag(normalizer, "lowercase");
        // strip_accents null follows lowercase (Hugging Face's rule); our WordPiece strips accents exactly when it lower-cases.
        bool stripAccents = normalizer.TryGetProperty("strip_accents", out JsonElement strip) && strip.ValueKind != JsonValueKind.Null ? strip.GetBoolean() : lowercase;
        if (!bert || stripAccents != lowercase)
        {
            throw new NotSupportedException($"{where}: a WordPiece model is read with BERT's normalizer (clean_text, handle_chinese_chars, accents stripped exactly when lower-cased) and pre-tokenizer; this file has another configuration.");
        }
        var tokens = new string[model.GetProperty("vocab").EnumerateObject().Count()];
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
        {
            int id = entry.Value.GetInt32();
            if (id < 0 || id >= tokens.Length)
            {
                throw new InvalidDataException($"{where}: the WordPiece vocabulary's ids are not 0 to {tokens.Length - 1} ('{entry.Name}' is {id}).");
            }
            tokens[id] = entry.Name;
        }
        return WordPiece.BertWordPieceTokenizer.FromTokens($"wordpiece:{Path.GetFileName(where)}@{sha256[..12]}", tokens, lowercase, where);
    }

    /// <summary>
    /// True when <paramref name="path"/> is a <c>tokenizer.json</c> or a folder holding one: by its name, or for another
    /// .json by its opening (a Hugging Face file declares <c>"added_tokens"</c> before its vocabulary; GPT-2's
    /// encoder.json is a flat map of tokens).
    /// </summary>
    public static bool IsTokenizerJson(string path)
    {
        if (Directory.Exists(path))
        {
            return File.Exists(Path.Combine(path, "tokenizer.json"));
        }
        if (Path.GetFileName(path).Equals("tokenizer.json", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || !File.Exists(path))
        {
            return false;
        }
        using FileStream stream = File.OpenRead(path);
        var head = new byte[Math.Min(stream.Length, 64 * 1024)];
        stream.ReadExactly(head);
        string text = Encoding.UTF8.GetString(head);
        return text.Contains("\"added_tokens\"", StringComparison.Ordinal) && text.Contains("\"model\"", StringComparison.Ordinal) || text.Contains("\"pre_tokenizer\"", StringComparison.Ordinal);
    }

    public string Name { get; }

    /// <summary>The file's SHA-256 (its first 12 digits are in <see cref="Name"/>, which a checkpoint records).</summary>
    public string Sha256 { get; }

    public int VocabularySize { get; }

    public SpecialTokens Special { get; }

    public int FindToken(string token) => _added.TryGetValue(token, out int id) || _vocabulary.TryGetValue(token, out id) ? id : -1;

    public string IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] ?? string.Empty : string.Empty;

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
    {
        if (text.IsEmpty)
        {
            return;
        }
        string whole = text.ToString();
        foreach ((int start, int end, AddedToken? token) in SplitAdded(whole, 0, whole.Length, _raw, _rawFirsts, _rawByFirst))
        {
            if (token is not null)
            {
                output.Add(token.Id);
                continue;
            }
            if (_wordPiece is not null)
            {
                _wordPiece.Encode(whole.AsSpan(start, end - start), output);
                continue;
            }
            string segment = whole;
            int from = start;
            int to = end;
            if (_normalizer is not null)
            {
                segment = _normalizer.Normalize(whole[start..end]);
                (from, to) = (0, segment.Length);
            }
            foreach ((int s, int e, AddedToken? normalizedToken) in SplitAdded(segment, from, to, _normalized, _normalizedFirsts, _normalizedByFirst))
            {
                if (normalizedToken is not null)
                {
                    output.Add(normalizedToken.Id);
                    continue;
                }
                var piece = new Piece(segment, s, e - s);
                if (_preTokenizer is null)
                {
                    EncodeWord(piece.Span, output);
                    continue;
                }
                List<Piece> pieces = t_pieces ??= new List<Piece>(256);
                pieces.Clear();
                _preTokenizer.Split(piece, pieces);
                foreach (Piece part in pieces)
                {
                    EncodeWord(part.Span, output);
                }
            }
        }
    }

    [ThreadStatic]
    private static List<Piece>? t_pieces;

    private void EncodeWord(ReadOnlySpan<char> word, TokenBuffer output)
    {
        if (_unigram is not null)
        {
            _unigram.Encode(word, output);
        }
        else
        {
            _model!.Encode(word, _byteLevel, output);
        }
    }

    /// <summary>
    /// The ids of <paramref name="text"/> with the post-processor's special tokens around them, as a model's own
    /// preprocessing adds them (<c>add_special_tokens=True</c>): Gemma's &lt;bos&gt;, BERT's [CLS] and [SEP].
    /// </summary>
    public void EncodeWithSpecialTokens(ReadOnlySpan<char> text, TokenBuffer output)
    {
        output.AddRange(_before);
        Encode(text, output);
        output.AddRange(_after);
    }

    /// <summary>The ids of <paramref name="text"/> without the post-processor's special tokens (<c>add_special_tokens=False</c>).</summary>
    public void Encode(string text, List<int> ids)
    {
        using var buffer = new TokenBuffer();
        Encode(text.AsSpan(), buffer);
        ids.AddRange(buffer.Span.ToArray());
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            tokens.Add(IdToToken(id));
        }
        return string.Concat(_decoder is null ? tokens : _decoder.Decode(tokens));
    }

    /// <summary>
    /// <paramref name="text"/>[from..to] cut at the added tokens it holds, leftmost first and longest among those
    /// starting there (the <c>tokenizers</c> matcher), honouring <c>single_word</c>, <c>lstrip</c> and <c>rstrip</c>.
    /// </summary>
    private static List<(int Start, int End, AddedToken? Token)> SplitAdded(string text, int from, int to, AddedToken[] tokens, System.Buffers.SearchValues<char> firsts, Dictionary<char, AddedToken[]> byFirst)
    {
        // One small list per document (and per segment between added tokens): Encode reads the outer one while it splits each segment again.
        var result = new List<(int, int, AddedToken?)>(tokens.Length == 0 ? 1 : 8);
        int done = from;
        int i = from;
        while (tokens.Length > 0 && i < to)
        {
            int next = text.AsSpan(i, to - i).IndexOfAny(firsts);
            if (next < 0)
            {
                break;
            }
            i += next;
            AddedToken? found = null;
            foreach (AddedToken candidate in byFirst[text[i]])
            {
                if (candidate.Content.Length <= to - i && string.CompareOrdinal(text, i, candidate.Content, 0, candidate.Content.Length) == 0 && (!candidate.SingleWord || IsWordBoundary(text, i, i + candidate.Content.Length)))
                {
                    found = candidate; // longest first
                    break;
                }
            }
            if (found is null)
            {
                i++;
                continue;
            }
            int start = i;
            int end = i + found.Content.Length;
            if (found.LeftStrip)
            {
                while (start > done && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }
            if (found.RightStrip)
            {
                while (end < to && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }
            if (start > done)
            {
                result.Add((done, start, null));
            }
            result.Add((start, end, found));
            done = end;
            i = end;
        }
        if (done < to)
        {
            result.Add((done, to, null));
        }
        return result;
    }

    private static bool IsWordBoundary(string text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1]) && text[start - 1] != '_') && (end == text.Length || !char.IsLetterOrDigit(text[end]) && text[end] != '_');

    private static Dictionary<char, AddedToken[]> ByFirst(AddedToken[] tokens) =>
        tokens.Where(t => t.Content.Length > 0).GroupBy(t => t.Content[0]).ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());

    private static bool Flag(JsonElement json, string name) => json.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.True;

    /// <summary>A token named in tokenizer_config.json: a string, or an object with its content; null when absent.</summary>
    private static string? ConfigToken(JsonElement config, string key) =>
        config.TryGetProperty(key, out JsonElement value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out JsonElement content) => content.GetString(),
            _ => null,
        } : null;

    /// <summary>
    /// The ids the post-processor puts before and after a single sequence: TemplateProcessing's special tokens around
    /// <c>$A</c>, BertProcessing's and RobertaProcessing's cls and sep; ByteLevel adds none.
    /// </summary>
    private static (int[] Before, int[] After) PostProcessorIds(JsonElement root, string where)
    {
        var before = new List<int>();
        var after = new List<int>();
        if (!root.TryGetProperty("post_processor", out JsonElement post) || post.ValueKind != JsonValueKind.Object)
        {
            return ([], []);
        }
        IEnumerable<JsonElement> processors = post.GetProperty("type").GetString() == "Sequence" ? post.GetProperty("processors").EnumerateArray() : [post];
        foreach (JsonElement processor in processors)
        {
            switch (processor.GetProperty("type").GetString())
            {
                case "ByteLevel":
                    break;
                case "TemplateProcessing":
                    JsonElement specials = processor.GetProperty("special_tokens");
                    bool seenSequence = false;
                    foreach (JsonElement item in processor.GetProperty("single").EnumerateArray())
                    {
                        if (item.TryGetProperty("Sequence", out _))
                        {
                            seenSequence = true;
                            continue;
                        }
                        string name = item.GetProperty("SpecialToken").GetProperty("id").GetString()!;
                        IEnumerable<int> ids = specials.GetProperty(name).GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
                        (seenSequence ? after : before).AddRange(ids);
                    }
                    break;
                case "BertProcessing" or "RobertaProcessing":
                    before.Insert(0, processor.GetProperty("cls")[1].GetInt32());
                    after.Add(processor.GetProperty("sep")[1].GetInt32());
                    break;
                case string other:
                    throw new NotSupportedException($"{where}: post-processor '{other}' is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence).");
            }
        }
        return ([.. before], [.. after]);
    }

    /// <summary>The special tokens of the post-processor's single-sequence template, in order (BOS first).</summary>
    private static string[] TemplateSpecials(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out JsonElement post) || post.ValueKind != JsonValueKind.Object)
        {
            return [];
        }
        IEnumerable<JsonElement> processors = post.GetProperty("type").GetString() == "Sequence" ? post.GetProperty("processors").EnumerateArray() : [post];
        foreach (JsonElement processor in processors)
        {
            if (processor.GetProperty("type").GetString() == "TemplateProcessing")
            {
                return processor.GetProperty("single").EnumerateArray().Where(e => e.TryGetProperty("SpecialToken", out _)).Select(e => e.GetProperty("SpecialToken").GetProperty("id").GetString()!).ToArray();
            }
        }
        return [];
    }
}
