using System.Diagnostics;
using System.Threading.Channels;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Parallel;

/// <summary>
/// Tokenizes documents on N workers and hands them on in input order, so the output does not depend on the number
/// of workers or on timing.
/// </summary>
/// <remarks>
/// A dispatcher groups documents into small chunks and queues each chunk twice: once for the workers and once, as a
/// pending result, in an ordered queue. The consumer awaits the pending results in queue order. Both queues are
/// bounded, which caps the documents in flight.
/// </remarks>
public sealed class OrderedTokenizerPool
{
    private readonly ITextTokenizer _tokenizer;
    private readonly int _workers;
    private readonly int _chunkDocuments;
    private readonly int _chunkChars;

    public OrderedTokenizerPool(ITextTokenizer tokenizer, int workers, int chunkDocuments = 16, int chunkChars = 1 << 18)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkDocuments, 1);
        _tokenizer = tokenizer;
        _workers = workers;
        _recycle = buffer =>
        {
            if (_buffers.Count < MaxIdleBuffers)
            {
                buffer.Release(KeptBufferCapacity);
                _buffers.Enqueue(buffer);
            }
            else
            {
                buffer.Dispose();
            }
        };
        _chunkDocuments = chunkDocuments;
        _chunkChars = chunkChars;
    }

    private long _tokenizerAllocated;
    private long _textBytes;

    // Buffer objects of disposed documents, for the workers to use again. They keep arrays of up to 16K ids (64 KiB),
    // so the usual document needs no rent per document; larger arrays go back to the shared pool. There are as many
    // as documents were ever in flight at once (the bounded queues' few hundred at most), and the run's end returns
    // their arrays.
    private const int KeptBufferCapacity = 1 << 14;
    private const int MaxIdleBuffers = 1024;
    private readonly System.Collections.Concurrent.ConcurrentQueue<TokenBuffer> _buffers = new();
    private readonly Action<TokenBuffer> _recycle;

    /// <summary>Number of workers.</summary>
    public int Workers => _workers;

    /// <summary>Bytes the tokenizer itself allocated (measured around each call on its worker's thread).</summary>
    public long TokenizerAllocatedBytes => Interlocked.Read(ref _tokenizerAllocated);

    /// <summary>Bytes the tokenized documents' text occupies as strings: what the provider allocated to hand them over.</summary>
    public long DocumentTextBytes => Interlocked.Read(ref _textBytes);

    // A string's size on the 64-bit runtime: header, method table and length (20 bytes), the characters and a terminator, in 8-byte steps.
    private static long TextBytes(int length) => (20L + (2L * (length + 1)) + 7) & ~7L;

    /// <summary>Tokenizes every document from <paramref name="input"/> and calls <paramref name="onDocument"/> in input order.</summary>
    /// <remarks><paramref name="onDocument"/> owns each <see cref="TokenizedDocument"/> it receives and must dispose it.</remarks>
    public async Task RunAsync(StageReader<Document> input, Func<TokenizedDocument, ValueTask> onDocument, StageCounters counters, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        CancellationToken token = cts.Token;
        Channel<Chunk> work = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(_workers * 2) { SingleWriter = true });
        Channel<Chunk> ordered = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(_workers * 4) { SingleWriter = true, SingleReader = true });

        Task dispatcher = Task.Run(() => DispatchAsync(input, work.Writer, ordered.Writer, token), token);
        var workers = new Task[_workers];
        for (int i = 0; i < _workers; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(work.Reader, counters, token), token);
        }

        Chunk? current = null;
        // A chunk queued here but never handed to a worker (cancellation landed between the two writes, or the
        // workers stopped) must not keep the consumer waiting: cancellation cancels the chunk it awaits. One
        // registration for the run, not a Task.WaitAsync per chunk.
        Chunk? awaited = null;
        using CancellationTokenRegistration registration = token.Register(() => Volatile.Read(ref awaited)?.Result.TrySetCanceled(token));
        try
        {
            while (await ordered.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (ordered.Reader.TryRead(out current))
                {
                    Volatile.Write(ref awaited, current);
                    if (token.IsCancellationRequested)
                    {
                        current.Result.TrySetCanceled(token);
                    }
                    TokenizedDocument[] results = await counters.WaitUpstreamAsync(new ValueTask<TokenizedDocument[]>(current.Result.Task)).ConfigureAwait(false);
                    current = null;
                    for (int i = 0; i < results.Length; i++)
                    {
                        try
                        {
                            await onDocument(results[i]).ConfigureAwait(false);
                        }
                        catch
                        {
                            for (int j = i + 1; j < results.Length; j++)
                            {
                                results[j].Dispose();
                            }
                            throw;
                        }
                    }
                }
            }
            await dispatcher.ConfigureAwait(false);
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(workers.Append(dispatcher)).ConfigureAwait(false);
            }
            catch
            {
                // The first fault already surfaced through the ordered queue or the dispatcher.
            }
            // No worker runs now: return the buffers of results nobody will consume.
            DisposeResults(current);
            while (ordered.Reader.TryRead(out Chunk? leftover))
            {
                DisposeResults(leftover);
            }
            while (_buffers.TryDequeue(out TokenBuffer? idle))
            {
                idle.Dispose();
            }
        }
    }

    private static void DisposeResults(Chunk? chunk)
    {
        if (chunk is not null && chunk.Result.Task.IsCompletedSuccessfully)
        {
            foreach (TokenizedDocument document in chunk.Result.Task.Result)
            {
                document.Dispose();
            }
        }
    }

    private async Task DispatchAsync(StageReader<Document> input, ChannelWriter<Chunk> work, ChannelWriter<Chunk> ordered, CancellationToken token)
    {
        Exception? error = null;
        try
        {
            var pending = new List<Document>(_chunkDocuments);
            int chars = 0;
            while (await input.WaitToReadAsync(token).ConfigureAwait(false))
            {
                // Take what is queued now, up to a chunk; don't wait to fill a chunk, that would add latency.
                while (pending.Count < _chunkDocuments && chars < _chunkChars && input.TryRead(out Document? document))
                {
                    pending.Add(document);
                    chars += document.Length;
                }
                if (pending.Count > 0)
                {
                    var chunk = new Chunk(pending.ToArray());
                    pending.Clear();
                    chars = 0;
                    await ordered.WriteAsync(chunk, token).ConfigureAwait(false);
                    await work.WriteAsync(chunk, token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
            throw;
        }
        finally
        {
            work.TryComplete(error);
            ordered.TryComplete(error);
        }
    }

    private async Task WorkAsync(ChannelReader<Chunk> work, StageCounters counters, CancellationToken token)
    {
        while (await work.WaitToReadAsync(token).ConfigureAwait(false))
        {
            while (work.TryRead(out Chunk? chunk))
            {
                long start = Stopwatch.GetTimestamp();
                var results = new TokenizedDocument[chunk.Documents.Length];
                int done = 0;
                try
                {
                    for (; done < results.Length; done++)
                    {
                        token.ThrowIfCancellationRequested();
                        Document document = chunk.Documents[done];
                        // Buffer objects go round between the workers and the consumer; their arrays come from the array pool as before.
                        int capacity = Math.Max(16, document.Length / 3);
                        TokenBuffer ids;
                        if (_buffers.TryDequeue(out TokenBuffer? reused))
                        {
                            ids = reused;
                            ids.Reset(capacity);
                        }
                        else
                        {
                            ids = new TokenBuffer(capacity);
                        }
                        long allocated = GC.GetAllocatedBytesForCurrentThread();
                        try
                        {
                            _tokenizer.Encode(document.Text, ids);
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            ids.Dispose();
                            throw new InvalidOperationException($"Tokenizing document '{document.Id}' (ordinal {document.Ordinal}, {document.Length} chars) with {_tokenizer.Name} failed: {ex.Message}", ex);
                        }
                        Interlocked.Add(ref _tokenizerAllocated, GC.GetAllocatedBytesForCurrentThread() - allocated);
                        Interlocked.Add(ref _textBytes, TextBytes(document.Length));
                        results[done] = new TokenizedDocument(document, ids, _recycle);
                    }
                    if (!chunk.Result.TrySetResult(results))
                    {
                        // The consumer gave up on this chunk (cancelled): nobody will take the buffers but the pool.
                        foreach (TokenizedDocument result in results)
                        {
                            result.Dispose();
                        }
                    }
                }
                catch (Exception ex)
                {
                    for (int i = 0; i < done; i++)
                    {
                        results[i].Dispose();
                    }
                    chunk.Result.TrySetException(ex);
                }
                finally
                {
                    counters.AddWorkerBusy(Stopwatch.GetTimestamp() - start);
                }
            }
        }
    }

    private sealed class Chunk
    {
        public Chunk(Document[] documents)
        {
            Documents = documents;
        }

        public Document[] Documents { get; }

        public TaskCompletionSource<TokenizedDocument[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
