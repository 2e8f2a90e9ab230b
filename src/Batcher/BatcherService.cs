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
    private readonly IReadOnlyDictionary<string, string> _vocabulary;
    private long _documents;
    private long _tokens;
    private long _emptyDocuments;
    private long _batchesSent;
    private long _positions;
    private long _filled;

    public BatcherService(ITrainingTask task, BatchingContext context, int workers)
    {
        _task = task;
        _context = context;
        _pool = new OrderedTokenizerPool(context.Tokenizer, workers);
        _vocabulary = VocabularyInfo.From(context.Tokenizer).MetadataEntries().ToDictionary(StringComparer.Ordinal);
    }

    /// <summary>Stop after sending this many batches (the loader's --max-steps); null sends until the input ends.</summary>
    public long? MaxBatches { get; init; }

    /// <summary>
    /// A resumed run's part-trained documents: each document whose ordinal is a key has that many leading tokens
    /// dropped (they were in batches already consumed). Usually one, the first of the resumed stream; a run re-dealt
    /// among another number of ranks may have one per old rank (the provider's <c>ElasticResume</c>).
    /// </summary>
    public IReadOnlyDictionary<long, long> ResumeOffsets { get; init; } = new Dictionary<long, long>();

    /// <summary>Batches handed to the output.</summary>
    public long BatchesSent => Interlocked.Read(ref _batchesSent);

    /// <summary>Documents tokenized.</summary>
    public long Documents => Interlocked.Read(ref _documents);

    /// <summary>Tokens produced by tokenization (before special tokens and padding).</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>
    /// The share of the positions of the batches sent (rows × seq of <c>input_ids</c>, padding rows included) that are
    /// padding; null before any batch.
    /// </summary>
    public double? PaddingFraction
    {
        get
        {
            long positions = Interlocked.Read(ref _positions);
            return positions == 0 ? null : 1.0 - (Interlocked.Read(ref _filled) / (double)positions);
        }
    }

    /// <summary>Documents whose text produced no tokens (for example only whitespace or control characters).</summary>
    public long EmptyDocuments => Interlocked.Read(ref _emptyDocuments);

    /// <summary>Bytes the tokenizer itself allocated.</summary>
    public long TokenizerAllocatedBytes => _pool.TokenizerAllocatedBytes;

    /// <summary>Bytes the tokenized documents' text occupied as strings (allocated by the provider).</summary>
    public long DocumentTextBytes => _pool.DocumentTextBytes;

    /// <summary>Workers in the tokenizer pool.</summary>
    public int Workers => _pool.Workers;

    /// <summary>Runs until the input completes (or <see cref="MaxBatches"/> are sent), then flushes the last partial batch and completes the output.</summary>
    public async Task RunAsync(StageContext stage, PipelineChannel<Document> input, IBatchWriter output)
    {
        IBatchBuilder builder = _task.CreateBatchBuilder(_context);
        var completed = new List<TensorBatch>(4);
        long lastOrdinal = -1;
        try
        {
            try
            {
                await _pool.RunAsync(
                    stage.Reader(input),
                    async document =>
                    {
                        using (document)
                        {
                            if (ResumeOffsets.Count > 0 && ResumeOffsets.TryGetValue(document.Source.Ordinal, out long trained) && trained > 0)
                            {
                                document.SkipLeading((int)Math.Min(trained, int.MaxValue));
                            }
                            Interlocked.Increment(ref _documents);
                            Interlocked.Add(ref _tokens, document.Count);
                            if (document.Count == 0)
                            {
                                Interlocked.Increment(ref _emptyDocuments);
                            }
                            builder.Add(document, completed);
                            lastOrdinal = document.Source.Ordinal;
                            // A builder that does not mark row positions: batches completed now hold rows of this
                            // document, maybe not all of them, so resuming after them restarts this document.
                            Stamp(completed, lastOrdinal);
                        }
                        await SendAsync(stage, completed, output).ConfigureAwait(false);
                    },
                    stage.Counters,
                    stage.CancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (LimitReached)
            {
                // The limit was reached: the pool was stopped on purpose, and the stream ends cleanly below.
            }

            if (!LimitReached)
            {
                builder.Complete(completed);
                Stamp(completed, lastOrdinal + 1);
                try
                {
                    await SendAsync(stage, completed, output).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (LimitReached)
                {
                    // The last partial batch was the one that reached the limit.
                }
            }
            await output.CompleteAsync(null, stage.CancellationToken).ConfigureAwait(false);
            if (LimitReached)
            {
                stage.StopPipeline();
            }
        }
        catch (Exception ex)
        {
            DisposeAll(completed);
            // A loader's consumer hears the cause (the provider's "file, offset: truncated"), not "the operation was canceled".
            await output.CompleteAsync(stage.Cause(ex), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private bool LimitReached => MaxBatches is long max && BatchesSent >= max;

    private void Stamp(List<TensorBatch> batches, long ordinal)
    {
        foreach (TensorBatch batch in batches)
        {
            if (!batch.Metadata.ContainsKey(BatchMetadataKeys.ResumeOrdinal))
            {
                batch.Metadata[BatchMetadataKeys.ResumeOrdinal] = ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            // The vocabulary's entries are the same for every batch: shared by reference, not copied into each.
            batch.Metadata.Share(_vocabulary);
        }
    }

    private static void DisposeAll(List<TensorBatch> batches)
    {
        foreach (TensorBatch batch in batches)
        {
            batch.Dispose();
        }
        batches.Clear();
    }

    // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(StageContext stage, List<TensorBatch> completed, IBatchWriter output)
    {
        for (int i = 0; i < completed.Count; i++)
        {
            TensorBatch batch = completed[i];
            long bytes = batch.ByteLength;
            long tokens = batch.TokenCount;
            long positions = batch.TryGet(TaskTensors.InputIds, out TensorBuffer ids) ? ids.ElementCount : 0;
            // A comparison batch repeats documents in another layout for timing: it is not the stream's padding.
            bool comparison = batch.Metadata.ContainsKey(BatchMetadataKeys.Comparison);
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
            Interlocked.Increment(ref _batchesSent);
            if (!comparison)
            {
                Interlocked.Add(ref _positions, positions);
                Interlocked.Add(ref _filled, Math.Min(tokens, positions));
            }
            if (LimitReached)
            {
                // Enough batches: the rest are not sent, and the run ends here (the consumer sees a clean end).
                for (int j = i + 1; j < completed.Count; j++)
                {
                    completed[j].Dispose();
                }
                completed.Clear();
                throw new OperationCanceledException("The batch limit was reached.");
            }
        }
        completed.Clear();
    }
}
