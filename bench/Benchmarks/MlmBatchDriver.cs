using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Mlm;

namespace StreamLoader.Benchmarks;

/// <summary>Feeds tokenized documents to an MLM batch builder (seq 128, batch 32 unless given) and disposes what it emits, counting tokens.</summary>
internal sealed class MlmBatchDriver
{
    private readonly IBatchBuilder _builder;
    private readonly List<TensorBatch> _completed = new(4);

    public MlmBatchDriver(ITextTokenizer tokenizer, int batchSize = 32)
    {
        _builder = new MaskedLanguageModelingTask().CreateBatchBuilder(new BatchingContext(tokenizer, 128, batchSize, seed: 1));
    }

    /// <summary>Non-padding tokens in the batches emitted so far.</summary>
    public long Tokens { get; private set; }

    /// <summary>Adds one document (and disposes it).</summary>
    public void Add(TokenizedDocument document)
    {
        using (document)
        {
            _builder.Add(document, _completed);
        }
        Drain();
    }

    /// <summary>Flushes the last partial batch; returns the token total.</summary>
    public long Complete()
    {
        _builder.Complete(_completed);
        Drain();
        return Tokens;
    }

    private void Drain()
    {
        foreach (TensorBatch batch in _completed)
        {
            Tokens += batch.TokenCount;
            batch.Dispose();
        }
        _completed.Clear();
    }
}
