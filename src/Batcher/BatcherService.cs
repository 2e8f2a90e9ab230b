using StreamLoader.Batcher.Parallel;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;

namespace StreamLoader.Batcher;

/// <summary>The batcher stage: tokenizes documents in parallel, in order, and turns them into batches by the task's rules.</summary>
public sealed class BatcherService
{
    private readonly ITrainingTask _task;
    private readonly BatchingContext _context;
    private readonly OrderedTokenizerPool _pool;
    private long _documents;
    private long _tokens;
    private long _emptyDocuments;

    public BatcherService(ITrainingTask task, BatchingContext context, int workers)
    {
        _task = task;
        _context = context;
        _pool = new OrderedTokenizerPool(context.Tokenizer, workers);
    }

    /// <summary>Documents tokenized.</summary>
    public long Documents => Interlocked.Read(ref _documents);

    /// <summary>Tokens produced by tokenization (before special tokens and padding).</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Documents whose text produced no tokens (for example only whitespace or control characters).</summary>
    public long EmptyDocuments => Interlocked.Read(ref _emptyDocuments);

    /// <summary>Workers in the tokenizer pool.</summary>
    public int Workers => _pool.Workers;

    /// <summary>Runs until the input completes, then flushes the last partial batch and completes the output.</summary>
    public async Task RunAsync(StageContext stage, PipelineChannel<Document> input, IBatchWriter output)
    {
        IBatchBuilder builder = _task.CreateBatchBuilder(_context);
        var completed = new List<TensorBatch>(4);
        long lastOrdinal = -1;
        try
        {
            await _pool.RunAsync(
                stage.Reader(input),
                async document =>
                {
                    using (document)
                    {
                        Interlocked.Increment(ref _documents);
                        Interlocked.Add(ref _tokens, document.Count);
                        if (document.Count == 0)
                        {
                            Interlocked.Increment(ref _emptyDocuments);
                        }
                        builder.Add(document, completed);
                        lastOrdinal = document.Source.Ordinal;
                        // Batches completed now hold rows of this document, maybe not all of them: resuming
                        // after them restarts this document (at most one document's windows repeat).
                        StampResume(completed, lastOrdinal);
                    }
                    await SendAsync(stage, completed, output).ConfigureAwait(false);
                },
                stage.Counters,
                stage.CancellationToken).ConfigureAwait(false);

            builder.Complete(completed);
            StampResume(completed, lastOrdinal + 1);
            await SendAsync(stage, completed, output).ConfigureAwait(false);
            await output.CompleteAsync(null, stage.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            foreach (TensorBatch batch in completed)
            {
                batch.Dispose();
            }
            await output.CompleteAsync(ex, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static void StampResume(List<TensorBatch> batches, long ordinal)
    {
        foreach (TensorBatch batch in batches)
        {
            batch.Metadata[BatchMetadataKeys.ResumeOrdinal] = ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private static async ValueTask SendAsync(StageContext stage, List<TensorBatch> completed, IBatchWriter output)
    {
        for (int i = 0; i < completed.Count; i++)
        {
            TensorBatch batch = completed[i];
            long bytes = batch.ByteLength;
            long tokens = batch.TokenCount;
            try
            {
                await stage.Counters.WaitDownstreamAsync(output.WriteAsync(batch, stage.CancellationToken)).ConfigureAwait(false);
            }
            catch
            {
                // Batches not yet handed over are still ours to dispose.
                for (int j = i + 1; j < completed.Count; j++)
                {
                    completed[j].Dispose();
                }
                completed.Clear();
                throw;
            }
            stage.Counters.AddOut(1, bytes, tokens);
        }
        completed.Clear();
    }
}
