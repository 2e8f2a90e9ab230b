using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;
using StreamLoader.Provider.Jsonl;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

/// <summary>
/// StreamLoader's WordPiece and GPT-2 byte-level BPE against Hugging Face <c>tokenizers</c> itself (the Rust library, through the npm package
/// <c>@anush008/tokenizers</c> and scripts/hf_wordpiece_ids.js), document by document on every shared corpus and on
/// a table of edge cases: the ids must be identical. Skips with a message where Node or the package is missing
/// (.ci/run installs them).
/// </summary>
public sealed class HuggingFaceWordPieceTests
{
    private static readonly string[] s_edgeCases =
    [
        "Hello, World! x\ny\tz\r\nw", "a = b + c < d > e | f ~ g ^ h $ i `j`", "café naïve Ångström résumé İstanbul straße ǅ",
        "a\vb\fc\u0000d\u0085e\u200bf\u00adg\ufeffh\ufffdi", "中文字符 and 日本語 and 한국어", "Ｆｕｌｌ ﬁ ① ½ ™ © ℃",
        "emoji 👍🏽 and 🇫🇷 flags", new string('a', 100), new string('a', 101), string.Concat(Enumerable.Repeat("é", 100)) + "b",
        "unaffable runnning tokenization", "U+037E is ;\u037e and \u0387 too", "\u00a0nbsp\u2028line\u2029para\u3000ideo",
        "e\u0301 o\u0308 combining", "x\ud800y lone surrogate", "ṩ ǖ ḗ Ǻ", "--option=value && ls | grep \"x\" > out.txt", "",
    ];

    [SkippableFact]
    public async Task Encode_PythonDocs_IdenticalToHuggingFace() => AssertIdentical(await HuggingFaceOracle.PythonDocsAsync(), lowercase: true);

    [SkippableFact]
    public async Task Encode_WikipediaSample_IdenticalToHuggingFace() => AssertIdentical(await HuggingFaceOracle.WikipediaAsync(), lowercase: true);

    [SkippableFact]
    public void Encode_JargonFile_IdenticalToHuggingFace() => AssertIdentical(HuggingFaceOracle.JargonParagraphs(), lowercase: true);

    [SkippableFact]
    public void Encode_EdgeCases_IdenticalToHuggingFace() =>
        AssertIdentical(s_edgeCases.Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray(), lowercase: true);

    [SkippableFact]
    public void Encode_EdgeCasesCased_IdenticalToHuggingFace() =>
        AssertIdentical(s_edgeCases.Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray(), lowercase: false);

    [SkippableFact]
    public async Task Gpt2Bpe_PythonDocs_IdenticalToHuggingFace() => AssertGpt2Identical(await HuggingFaceOracle.PythonDocsAsync());

    [SkippableFact]
    public async Task Gpt2Bpe_WikipediaSample_IdenticalToHuggingFace() => AssertGpt2Identical(await HuggingFaceOracle.WikipediaAsync());

    [SkippableFact]
    public void Gpt2Bpe_EdgeCases_IdenticalToHuggingFace() =>
        // Not the lone surrogate: no reader can produce one (they decode UTF-8), and the byte-level BPE libraries
        // encode it differently (three U+FFFD bytes unmerged here, one merged token there).
        AssertGpt2Identical(s_edgeCases.Where(text => !text.Contains('\ud800')).Concat(["a  b\t\tc   d", new string(' ', 40) + "x", "<|endoftext|> as text", string.Concat(Enumerable.Repeat("hello", 14_000))])
            .Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray());

    private static void AssertGpt2Identical(Document[] documents)
    {
        string encoder = SharedData.Require(SharedData.Gpt2Encoder);
        string merges = SharedData.Require(SharedData.Gpt2Merges);
        int[][] expected = HuggingFaceOracle.Ids(documents, "hf_bpe_ids.js", [encoder, merges, "--match-special", "false"]);
        HuggingFaceOracle.Compare(documents, expected, TokenizerFactory.CreateGpt2(encoder, merges));
    }

    private static void AssertIdentical(Document[] documents, bool lowercase)
    {
        string vocab = SharedData.Require(SharedData.BertVocab);
        int[][] expected = HuggingFaceOracle.Ids(documents, "hf_wordpiece_ids.js", [vocab, "--lowercase", lowercase ? "true" : "false", "--match-special", "false"]);
        HuggingFaceOracle.Compare(documents, expected, TokenizerFactory.CreateWordPiece(vocab, lowercase));
    }
}
