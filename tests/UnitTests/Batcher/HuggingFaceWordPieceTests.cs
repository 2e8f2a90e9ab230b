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
    private static async Task<Document[]> PythonDocsAsync() =>
        [.. await Collect.DocumentsAsync(new JsonlDocumentReader(SharedData.Require(SharedData.PythonDocs)))];

    private static async Task<Document[]> WikipediaAsync() =>
        [.. await Collect.DocumentsAsync(new CirrusSearchDumpReader(SharedData.Require(SharedData.CirrusSample)))];

    /// <summary>The Jargon File cut into paragraphs at blank lines, lines joined with their newlines.</summary>
    private static Document[] JargonParagraphs()
    {
        using var gzip = new GZipStream(File.OpenRead(SharedData.Require("text/jargon-4.4.7.txt.gz")), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var documents = new List<Document>();
        var paragraph = new StringBuilder();
        for (string? line = reader.ReadLine(); ; line = reader.ReadLine())
        {
            if (line is null || line.Trim(' ', '\t').Length == 0)
            {
                if (paragraph.Length > 0)
                {
                    documents.Add(new Document(documents.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), paragraph.ToString()));
                    paragraph.Clear();
                }
                if (line is null)
                {
                    break;
                }
                continue;
            }
            if (paragraph.Length > 0)
            {
                paragraph.Append('\n');
            }
            paragraph.Append(line);
        }
        return [.. documents];
    }

    private static readonly string[] s_edgeCases =
    [
        "Hello, World! x\ny\tz\r\nw", "a = b + c < d > e | f ~ g ^ h $ i `j`", "café naïve Ångström résumé İstanbul straße ǅ",
        "a\vb\fc\u0000d\u0085e\u200bf\u00adg\ufeffh\ufffdi", "中文字符 and 日本語 and 한국어", "Ｆｕｌｌ ﬁ ① ½ ™ © ℃",
        "emoji 👍🏽 and 🇫🇷 flags", new string('a', 100), new string('a', 101), string.Concat(Enumerable.Repeat("é", 100)) + "b",
        "unaffable runnning tokenization", "U+037E is ;\u037e and \u0387 too", "\u00a0nbsp\u2028line\u2029para\u3000ideo",
        "e\u0301 o\u0308 combining", "x\ud800y lone surrogate", "ṩ ǖ ḗ Ǻ", "--option=value && ls | grep \"x\" > out.txt", "",
    ];

    [SkippableFact]
    public async Task Encode_PythonDocs_IdenticalToHuggingFace() => AssertIdentical(await PythonDocsAsync(), lowercase: true);

    [SkippableFact]
    public async Task Encode_WikipediaSample_IdenticalToHuggingFace() => AssertIdentical(await WikipediaAsync(), lowercase: true);

    [SkippableFact]
    public void Encode_JargonFile_IdenticalToHuggingFace() => AssertIdentical(JargonParagraphs(), lowercase: true);

    [SkippableFact]
    public void Encode_EdgeCases_IdenticalToHuggingFace() =>
        AssertIdentical(s_edgeCases.Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray(), lowercase: true);

    [SkippableFact]
    public void Encode_EdgeCasesCased_IdenticalToHuggingFace() =>
        AssertIdentical(s_edgeCases.Select((text, i) => new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), text)).ToArray(), lowercase: false);

    [SkippableFact]
    public async Task Gpt2Bpe_PythonDocs_IdenticalToHuggingFace() => AssertGpt2Identical(await PythonDocsAsync());

    [SkippableFact]
    public async Task Gpt2Bpe_WikipediaSample_IdenticalToHuggingFace() => AssertGpt2Identical(await WikipediaAsync());

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
        int[][] expected = HuggingFaceIds(documents, "hf_bpe_ids.js", [encoder, merges, "--match-special", "false"]);
        Compare(documents, expected, TokenizerFactory.CreateGpt2(encoder, merges));
    }

    private static void AssertIdentical(Document[] documents, bool lowercase)
    {
        string vocab = SharedData.Require(SharedData.BertVocab);
        int[][] expected = HuggingFaceIds(documents, "hf_wordpiece_ids.js", [vocab, "--lowercase", lowercase ? "true" : "false", "--match-special", "false"]);
        Compare(documents, expected, TokenizerFactory.CreateWordPiece(vocab, lowercase));
    }

    private static void Compare(Document[] documents, int[][] expected, ITextTokenizer ours)
    {
        var differences = new List<string>();
        for (int d = 0; d < documents.Length; d++)
        {
            using var ids = new TokenBuffer();
            ours.Encode(documents[d].Text, ids);
            int[] actual = ids.Span.ToArray();
            if (!actual.AsSpan().SequenceEqual(expected[d]))
            {
                differences.Add(Describe(documents[d], actual, expected[d], ours));
            }
        }

        Assert.True(differences.Count == 0, $"{differences.Count} of {documents.Length} documents differ from Hugging Face:\n{string.Join('\n', differences.Take(5))}");
        Assert.Equal(documents.Length, expected.Length);
    }

    private static string Describe(Document document, int[] actual, int[] expected, ITextTokenizer tokenizer)
    {
        int at = 0;
        while (at < actual.Length && at < expected.Length && actual[at] == expected[at])
        {
            at++;
        }
        string Window(int[] ids) => string.Join(' ', ids.Skip(Math.Max(0, at - 3)).Take(8).Select(tokenizer.IdToToken));
        return $"  document {document.Id}: first difference at id {at} of {expected.Length}: ours [{Window(actual)}], Hugging Face [{Window(expected)}]";
    }

    /// <summary>Runs one of the scripts/hf_*_ids.js over the documents; skips the test when Node or the package is missing.</summary>
    private static int[][] HuggingFaceIds(Document[] documents, string scriptName, string[] arguments)
    {
        string script = Path.Combine(SharedData.RepositoryRoot, "scripts", scriptName);
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (string arg in (string[])[script, .. arguments])
        {
            info.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Requirement.Missing("Node.js is not installed; .ci/run installs it and the @anush008/tokenizers package these tests compare with.");
            throw;
        }
        using (process)
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            var results = new List<int[]>(documents.Length);
            Task reading = Task.Run(() =>
            {
                for (string? line = process.StandardOutput.ReadLine(); line is not null; line = process.StandardOutput.ReadLine())
                {
                    using JsonDocument row = JsonDocument.Parse(line);
                    results.Add(row.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
                }
            });
            try
            {
                foreach (Document document in documents)
                {
                    process.StandardInput.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = document.Id, ["text"] = document.Text }));
                }
                process.StandardInput.Close();
            }
            catch (IOException) when (process.WaitForExit(60_000) && process.ExitCode == 3)
            {
                // The script exited before reading (its module is missing): skip below rather than fail on the pipe.
            }
            Assert.True(reading.Wait(TimeSpan.FromMinutes(5)), "the Hugging Face script did not finish within 5 minutes");
            process.WaitForExit();
            Requirement.SkipIfMissing(process.ExitCode == 3, "The npm package @anush008/tokenizers is not installed (.ci/run installs it; set HF_TOKENIZERS_NODE_MODULES to its node_modules): " + errors.Result.Trim());
            Assert.True(process.ExitCode == 0, $"scripts/{scriptName} exited {process.ExitCode}: {errors.Result}");
            return [.. results];
        }
    }
}
