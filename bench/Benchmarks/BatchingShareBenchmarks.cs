using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Mlm;

namespace StreamLoader.Benchmarks;

/// <summary>
/// The CPU a pass of the MLM batch builder costs against the CPU a pass of the tokenizer costs, on the same documents
/// and one thread, at <c>streamloader bench</c>'s shape (8 × 128): the Ratio column is the builder's CPU per token
/// over the tokenizer's (less the <see cref="WrapIds"/> row). The CPU-bound limit L that <c>bench</c> reports counts the tokenizer and the provider only,
/// so a pipeline that also builds batches, with hand-offs that cost nothing, reaches at most
/// (1/tokenizer + 1/provider) ÷ (1/tokenizer + 1/provider + builder's CPU per token) of L: this ratio gives the last term.
/// </summary>
[MemoryDiagnoser]
public class BatchingShareBenchmarks
{
    private ITextTokenizer _tokenizer = null!;
    private (Document Source, int[] Ids)[] _documents = null!;
    private IBatchBuilder _builder = null!;
    private readonly List<TensorBatch> _completed = new(8);
    private readonly TokenBuffer _scratch = new(1 << 14);

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = BenchTokenizers.Create("wordpiece");
        _builder = new MaskedLanguageModelingTask().CreateBatchBuilder(new BatchingContext(_tokenizer, 128, 8, seed: 1));
        _documents = BenchCorpus.Documents.Select(d =>
        {
            using var ids = new TokenBuffer();
            _tokenizer.Encode(d.Text, ids);
            return (d, ids.Span.ToArray());
        }).ToArray();
    }

    /// <summary>The tokenizer over the corpus, into one buffer, as the pipeline's workers run it: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public long Tokenize()
    {
        long tokens = 0;
        foreach ((Document source, _) in _documents)
        {
            _scratch.Clear();
            _tokenizer.Encode(source.Text, _scratch);
            tokens += _scratch.Count;
        }
        return tokens;
    }

    /// <summary>
    /// Only what <see cref="WrapAndBuildMlm"/> does besides building: each document's ids copied into a pooled token
    /// buffer, as a worker hands them over, and the buffer returned. Subtract it from that row.
    /// </summary>
    [Benchmark]
    public long WrapIds()
    {
        long tokens = 0;
        foreach ((Document source, int[] ids) in _documents)
        {
            using TokenizedDocument document = Wrap(source, ids);
            tokens += document.Count;
        }
        return tokens;
    }

    /// <summary>The MLM builder (windows, [CLS]/[SEP], padding, 80/10/10 masking) over the same documents' ids, 8 × 128.</summary>
    [Benchmark]
    public long WrapAndBuildMlm()
    {
        long batches = 0;
        foreach ((Document source, int[] ids) in _documents)
        {
            using (TokenizedDocument document = Wrap(source, ids))
            {
                _builder.Add(document, _completed);
            }
            foreach (TensorBatch batch in _completed)
            {
                batch.Dispose();
                batches++;
            }
            _completed.Clear();
        }
        return batches;
    }

    private static TokenizedDocument Wrap(Document source, int[] ids)
    {
        var buffer = new TokenBuffer(ids.Length);
        buffer.AddRange(ids);
        return new TokenizedDocument(source, buffer);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builder.Complete(_completed);
        foreach (TensorBatch batch in _completed)
        {
            batch.Dispose();
        }
        _completed.Clear();
        _scratch.Dispose();
    }
}
