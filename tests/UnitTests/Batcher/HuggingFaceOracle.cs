using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;
using StreamLoader.Provider.Jsonl;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

/// <summary>
/// The Hugging Face <c>tokenizers</c> oracle the tokenizer tests compare with (the Rust library through the npm package
/// <c>@anush008/tokenizers</c> and the scripts/hf_*_ids.js), and the shared corpora they compare on.
/// </summary>
internal static class HuggingFaceOracle
{
    public static async Task<Document[]> PythonDocsAsync() =>
        [.. await Collect.DocumentsAsync(new JsonlDocumentReader(SharedData.Require(SharedData.PythonDocs)))];

    public static async Task<Document[]> WikipediaAsync() =>
        [.. await Collect.DocumentsAsync(new CirrusSearchDumpReader(SharedData.Require(SharedData.CirrusSample)))];

    /// <summary>The Jargon File cut into paragraphs at blank lines, lines joined with their newlines.</summary>
    public static Document[] JargonParagraphs()
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

    public static void Compare(Document[] documents, int[][] expected, ITextTokenizer ours, Action<string, TokenBuffer>? encode = null)
    {
        encode ??= (text, ids) => ours.Encode(text, ids);
        var differences = new List<string>();
        for (int d = 0; d < documents.Length; d++)
        {
            using var ids = new TokenBuffer();
            encode(documents[d].Text, ids);
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
    public static int[][] Ids(Document[] documents, string scriptName, string[] arguments)
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
        // The oracle is looked for where HF_TOKENIZERS_NODE_MODULES says; without it, where .ci/run installs it.
        info.Environment["HF_TOKENIZERS_NODE_MODULES"] = NodeScripts.Modules;
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
