using BenchmarkDotNet.Attributes;
using Microsoft.ML.Tokenizers;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Benchmarks;

/// <summary>
/// Tokenization plus MLM batching against the raw Microsoft.ML.Tokenizers call, on the same text. The raw call is
/// the baseline; Ratio shows what StreamLoader's own WordPiece gains and what each layer costs (or, with workers, gains).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensPerSecondConfig))]
public class TokenizationBenchmarks
{
    private ITextTokenizer _tokenizer = null!;
    private ITextTokenizer _library = null!;
    private Tokenizer _raw = null!;
    private Document[] _documents = null!;

    [Params("wordpiece")]
    public string Tokenizer { get; set; } = "wordpiece";

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = BenchTokenizers.Create(Tokenizer);
        _library = Tokenizer == "wordpiece" && BenchCorpus.BertVocab is { } vocab ? TokenizerFactory.CreateLibraryWordPiece(vocab) : _tokenizer;
        _raw = ((TokenizerAdapter)_library).Inner;
        _documents = BenchCorpus.Documents;
    }

    /// <summary>Microsoft.ML.Tokenizers on each document, one thread: the reference.</summary>
    [Benchmark(Baseline = true)]
    public long RawTokenizer()
    {
        long total = 0;
        foreach (Document document in _documents)
        {
            total += _raw is BertTokenizer bert ? bert.EncodeToIds(document.Text, addSpecialTokens: false).Count : _raw.EncodeToIds(document.Text).Count;
        }
        return total;
    }

    /// <summary>StreamLoader's adapter around the library: chunked encoding into a pooled buffer, one thread.</summary>
    [Benchmark]
    public long AdapterEncode() => BenchCorpus.CountTokens(_library);

    /// <summary>The tokenizer the pipeline uses (for wordpiece, StreamLoader's own Hugging Face-exact WordPiece), one thread.</summary>
    [Benchmark]
    public long PipelineTokenizerEncode() => BenchCorpus.CountTokens(_tokenizer);

    /// <summary>Tokenize and build MLM batches (windows, [CLS]/[SEP], padding, 80/10/10 masking), one thread.</summary>
    [Benchmark]
    public long TokenizeAndBatchMlm()
    {
        var driver = new MlmBatchDriver(_tokenizer);
        foreach (Document document in _documents)
        {
            var ids = new TokenBuffer();
            _tokenizer.Encode(document.Text, ids);
            driver.Add(new TokenizedDocument(document, ids));
        }
        return driver.Complete();
    }

    [Params(1, 2)]
    public int Workers { get; set; } = 1;

    /// <summary>The real batcher stage: ordered worker pool, MLM batches, bounded channels and the in-process transport.</summary>
    [Benchmark]
    public long PipelineBatcherStage() => BatcherStageBenchmarks.RunAsync(_tokenizer, _documents, passes: 1, Workers, sequenceLength: 128, batchSize: 32).GetAwaiter().GetResult().Tokens;
}

internal static class BenchTokenizers
{
    public static ITextTokenizer Create(string name) => name switch
    {
        "wordpiece" when BenchCorpus.BertVocab is { } vocab => TokenizerFactory.CreateWordPiece(vocab),
        _ => TokenizerFactory.CreateTiktoken(),
    };
}
