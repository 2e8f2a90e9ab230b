using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Mlm;

namespace StreamLoader.Benchmarks;

/// <summary>
/// The batch builder alone, on documents tokenized beforehand: windowing, [CLS]/[SEP], padding and masking. This is
/// the part of the batcher that runs on one thread while tokenization runs on many, so it bounds how far the stage
/// scales with workers. Baseline: only copying the ids into fresh token buffers (the unavoidable input cost). The
/// tokenizer on the same documents, one thread, sets the builder's CPU per token against the tokenizer's: bench's
/// CPU-bound limit L counts the tokenizer and the provider, and every token also costs this much batch building.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensPerSecondConfig))]
public class BatchingBenchmarks
{
    private ITextTokenizer _tokenizer = null!;
    private (Document Source, int[] Ids)[] _documents = null!;

    [Params("wordpiece")]
    public string Tokenizer { get; set; } = "wordpiece";

    /// <summary>Rows per batch, 128 tokens each: 8 is bench's default shape.</summary>
    [Params(8, 32)]
    public int Rows { get; set; } = 32;

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = BenchTokenizers.Create(Tokenizer);
        _documents = BenchCorpus.Documents.Select(d =>
        {
            using var ids = new TokenBuffer();
            _tokenizer.Encode(d.Text, ids);
            return (d, ids.Span.ToArray());
        }).ToArray();
    }

    [Benchmark(Baseline = true)]
    public long CopyIdsOnly()
    {
        long total = 0;
        foreach ((Document source, int[] ids) in _documents)
        {
            var buffer = new TokenBuffer(ids.Length);
            buffer.AddRange(ids);
            using var doc = new TokenizedDocument(source, buffer);
            total += doc.Count;
        }
        return total;
    }

    [Benchmark]
    public long MlmBuilder()
    {
        var driver = new MlmBatchDriver(_tokenizer, Rows);
        foreach ((Document source, int[] ids) in _documents)
        {
            var buffer = new TokenBuffer(ids.Length);
            buffer.AddRange(ids);
            driver.Add(new TokenizedDocument(source, buffer));
        }
        return driver.Complete();
    }

    /// <summary>The tokenizer over the same documents, one thread, one buffer (as a worker runs it).</summary>
    [Benchmark]
    public long Tokenize() => BenchCorpus.CountTokens(_tokenizer);
}
