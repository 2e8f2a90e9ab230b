using System.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Measurement;

/// <summary>The raw tokenizer's speed on a set of documents: the ceiling a loader that uses it can reach.</summary>
/// <param name="Documents">Documents measured.</param>
/// <param name="Tokens">Tokens they gave.</param>
/// <param name="SingleThreadSeconds">Time to tokenize them all on one thread.</param>
/// <param name="AllThreadsSeconds">Time to tokenize them all on <paramref name="Threads"/> threads.</param>
/// <param name="Threads">Threads of the parallel measurement.</param>
/// <param name="Truncated">True when the documents were cut at the character budget: the ceiling is of a prefix.</param>
/// <param name="ProviderSeconds">
/// Time the provider took to read the documents once more, right after the run (opening the input included, the
/// format's detection not): one pass, not a steady state.
/// </param>
/// <param name="BesideProviderSeconds">
/// Time to tokenize them all on one thread while another thread reads the same documents over and over, as fast as it
/// can; null where there is only one core, or where the reader did not keep reading (<paramref name="BesideProviderFailure"/>).
/// </param>
/// <param name="BesideProviderFailure">Why the tokenizer could not be timed beside a reading provider, when a reader was tried; else null.</param>
/// <param name="ProviderRecords">Records (lines, rows) the provider read for those documents, skipped ones included.</param>
/// <param name="BuilderSeconds">
/// Time the task's batch builder spent on those documents' tokens, one pass on one thread (the tokenizing between its
/// calls not counted); null where no builder was given or it failed (<paramref name="BuilderFailure"/>).
/// </param>
/// <param name="BuilderFailure">Why the batch builder could not be timed, when one was given; else null.</param>
public sealed record TokenizerCeilingResult(long Documents, long Tokens, double SingleThreadSeconds, double AllThreadsSeconds, int Threads, bool Truncated, double ProviderSeconds, double? BesideProviderSeconds, string? BesideProviderFailure, long ProviderRecords, double? BuilderSeconds = null, string? BuilderFailure = null)
{
    /// <summary>Tokens per second on one thread.</summary>
    public double SingleThreadTokensPerSecond => SingleThreadSeconds > 0 ? Tokens / SingleThreadSeconds : 0;

    /// <summary>Tokens per second on every thread: the ceiling.</summary>
    public double AllThreadsTokensPerSecond => AllThreadsSeconds > 0 ? Tokens / AllThreadsSeconds : 0;

    /// <summary>
    /// The documents' tokens over the provider's time to read them alone: about how fast the reader could feed a
    /// tokenizer that cost nothing, whatever the workers (one pass, so it varies with how warm the reading code is).
    /// </summary>
    public double ProviderTokensPerSecond => ProviderSeconds > 0 ? Tokens / ProviderSeconds : 0;

    /// <summary>Tokens per second on one thread while the provider reads on another; null where it was not measured.</summary>
    public double? BesideProviderTokensPerSecond => BesideProviderSeconds is > 0 and double seconds ? Tokens / seconds : null;

    /// <summary>Tokens per CPU-second of the task's batch builder (one thread); null where it was not measured.</summary>
    public double? BuilderTokensPerSecond => BuilderSeconds is > 0 and double seconds ? Tokens / seconds : null;
}

/// <summary>
/// Measures the tokenizer alone on the documents a run used (read again from the source, in source order), on one
/// thread and on all, with nothing else running: what <c>streamloader bench</c> compares the pipeline against. It also
/// times the provider reading them alone, and the tokenizer on one thread beside a provider reading on another core,
/// so a run's efficiency can be read against what the two stages can do on this machine together.
/// </summary>
public static class TokenizerCeiling
{
    /// <summary>Reads up to <paramref name="documents"/> documents (and at most <paramref name="maxChars"/> characters) and times the tokenizer on them.</summary>
    /// <param name="openSource">Makes the source afresh: one is read for the documents, another again and again beside the tokenizer.</param>
    /// <param name="tokenizer">The tokenizer the run used.</param>
    /// <param name="documents">The documents the run tokenized: the first this many are measured.</param>
    /// <param name="threads">Threads of the all-threads measurement (the run's workers).</param>
    /// <param name="maxChars">Most characters held for the measurement; a longer run is measured on a prefix.</param>
    /// <param name="cancellationToken">Stops the measurement.</param>
    /// <param name="createBuilder">
    /// Makes the run's batch builder (the task's, with the run's settings), to time it on the same documents' tokens:
    /// the CPU the pipeline spends per token besides the tokenizer and the provider. Null skips it.
    /// </param>
    public static async Task<TokenizerCeilingResult> MeasureAsync(Func<IDocumentSource> openSource, ITextTokenizer tokenizer, long documents, int threads, long maxChars, CancellationToken cancellationToken, Func<IBatchBuilder>? createBuilder = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var read = new List<Document>();
        var texts = new List<string>();
        long chars = 0;
        bool truncated = false;
        IDocumentSource source = openSource();
        long readStart = Stopwatch.GetTimestamp();
        await foreach (Document document in source.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (texts.Count >= documents)
            {
                break;
            }
            if (chars + document.Length > maxChars && texts.Count > 0)
            {
                truncated = true;
                break;
            }
            read.Add(document);
            texts.Add(document.Text);
            chars += document.Length;
        }
        double providerSeconds = Stopwatch.GetElapsedTime(readStart).TotalSeconds;
        long providerRecords = source.Statistics.RecordsRead;

        // Warm up first, so that neither measurement pays for the JIT's tiers: the ceiling is the tokenizer's steady
        // state. Each measurement then runs whole passes for at least a quarter of a second, so that a small set is
        // not lost in timer resolution and the cost of starting threads.
        long tokens = Run(tokenizer, texts, 0, texts.Count);
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < 0.3)
        {
            // Long enough for the runtime to recompile the hot methods at full optimisation.
            Run(tokenizer, texts, 0, texts.Count);
        }
        int passes = 0;
        start = Stopwatch.GetTimestamp();
        do
        {
            Run(tokenizer, texts, 0, texts.Count);
            passes++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < 0.25);
        double single = Stopwatch.GetElapsedTime(start).TotalSeconds / passes;
        (double? builder, string? builderFailure) = createBuilder is null ? (null, null) : BuilderSeconds(createBuilder, tokenizer, read, cancellationToken);
        (double? beside, string? besideFailure) = Environment.ProcessorCount > 1
            ? await BesideProviderSecondsAsync(openSource(), tokenizer, texts, passes, cancellationToken).ConfigureAwait(false)
            : (null, null);

        // As many passes per thread; twice, keeping the faster (the first also starts the threads and compiles their loop).
        long items = (long)texts.Count * passes * threads;
        double all = Math.Min(
            await ParallelSecondsAsync(tokenizer, texts, items, threads, cancellationToken).ConfigureAwait(false),
            await ParallelSecondsAsync(tokenizer, texts, items, threads, cancellationToken).ConfigureAwait(false)) / ((double)passes * threads);
        return new TokenizerCeilingResult(texts.Count, tokens, single, all, threads, truncated, providerSeconds, beside, besideFailure, providerRecords, builder, builderFailure);
    }

    /// <summary>
    /// Seconds a fresh batch builder spends on one pass over <paramref name="documents"/>, on this thread: each document
    /// is tokenized (not timed), then handed to the builder as the batcher does, and the batches it completes are
    /// disposed, as a consumer would; then the builder is completed (all timed). Or why it could not be timed, with
    /// null seconds.
    /// </summary>
    private static (double? Seconds, string? Failure) BuilderSeconds(Func<IBatchBuilder> createBuilder, ITextTokenizer tokenizer, List<Document> documents, CancellationToken cancellationToken)
    {
        var completed = new List<TensorBatch>(8);
        try
        {
            // A first builder takes the first documents, so that the pass is not timed at the JIT's first tier; a
            // second, fresh one the pass. Its end is timed too: a builder that sorts a window of documents (infer)
            // builds the last window's batches there.
            FeedBuilder(createBuilder(), tokenizer, documents, Math.Min(documents.Count, 64), completed, cancellationToken);
            long ticks = FeedBuilder(createBuilder(), tokenizer, documents, documents.Count, completed, cancellationToken);
            return (ticks / (double)Stopwatch.Frequency, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (null, ex.Message);
        }
        finally
        {
            foreach (TensorBatch batch in completed)
            {
                batch.Dispose();
            }
        }
    }

    private static long FeedBuilder(IBatchBuilder builder, ITextTokenizer tokenizer, List<Document> documents, int count, List<TensorBatch> completed, CancellationToken cancellationToken)
    {
        long ticks = 0;
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Document document = documents[i];
            var ids = new TokenBuffer(Math.Max(16, document.Length / 3));
            tokenizer.Encode(document.Text, ids);
            long start = Stopwatch.GetTimestamp();
            using (var tokenized = new TokenizedDocument(document, ids))
            {
                builder.Add(tokenized, completed);
            }
            foreach (TensorBatch batch in completed)
            {
                batch.Dispose();
            }
            completed.Clear();
            ticks += Stopwatch.GetTimestamp() - start;
        }
        long end = Stopwatch.GetTimestamp();
        builder.Complete(completed);
        foreach (TensorBatch batch in completed)
        {
            batch.Dispose();
        }
        completed.Clear();
        return ticks + (Stopwatch.GetTimestamp() - end);
    }

    /// <summary>
    /// Seconds per pass of the tokenizer on this thread, for <paramref name="passes"/> passes, while a thread-pool
    /// thread reads the same documents from <paramref name="source"/> again and again; or why it could not be timed
    /// (the reader failed, or found nothing to read), with null seconds.
    /// </summary>
    private static async Task<(double? Seconds, string? Failure)> BesideProviderSecondsAsync(IDocumentSource source, ITextTokenizer tokenizer, List<string> texts, int passes, CancellationToken cancellationToken)
    {
        if (texts.Count == 0)
        {
            return (null, "there were no documents to read");
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task reader = Task.Run(
            async () =>
            {
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        long read = 0;
                        await foreach (Document document in source.ReadAsync(stop.Token).ConfigureAwait(false))
                        {
                            started.TrySetResult();
                            if (++read >= texts.Count)
                            {
                                break;
                            }
                        }
                        if (read == 0)
                        {
                            // The source holds nothing now: a loop of empty reads would never end.
                            return;
                        }
                    }
                }
                finally
                {
                    // However the reader ends, the timing must not be left waiting for it.
                    started.TrySetResult();
                }
            },
            CancellationToken.None);
        try
        {
            // Timing starts once the reader is under way, so it does not count the reader's start.
            await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            long start = Stopwatch.GetTimestamp();
            for (int pass = 0; pass < passes && !reader.IsCompleted; pass++)
            {
                Run(tokenizer, texts, 0, texts.Count);
            }
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds / passes;
            // Only a reader still reading when the timing ends read beside all of it.
            bool readThroughout = !reader.IsCompleted;
            await stop.CancelAsync().ConfigureAwait(false);
            string? failure = await FailureOfAsync(reader, stop.Token).ConfigureAwait(false);
            return readThroughout && failure is null ? (seconds, null) : (null, failure ?? "the source held no documents when read again");
        }
        finally
        {
            // Cancelled, or the tokenizer failed: stop the reader and wait for it; what it threw is not the error here.
            if (!reader.IsCompleted)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                await FailureOfAsync(reader, stop.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The message of what <paramref name="reader"/> failed with; null when it ended cleanly or was stopped through <paramref name="stopped"/>.</summary>
    private static async Task<string?> FailureOfAsync(Task reader, CancellationToken stopped)
    {
        try
        {
            await reader.ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (stopped.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return ex.Message;
        }
    }

    /// <summary>Seconds to tokenize <paramref name="items"/> documents (cycling through the set) on <paramref name="threads"/> threads.</summary>
    private static async Task<double> ParallelSecondsAsync(ITextTokenizer tokenizer, List<string> texts, long items, int threads, CancellationToken cancellationToken)
    {
        // Work is claimed in chunks, so that many small documents do not make the threads fight over one counter.
        long chunk = Math.Max(1, items / (threads * 64L));
        long next = 0;
        long start = Stopwatch.GetTimestamp();
        var workers = new Task[threads];
        for (int t = 0; t < threads; t++)
        {
            workers[t] = Task.Factory.StartNew(
                () =>
                {
                    using var ids = new TokenBuffer(4096);
                    for (long from = Interlocked.Add(ref next, chunk) - chunk; from < items; from = Interlocked.Add(ref next, chunk) - chunk)
                    {
                        for (long i = from; i < Math.Min(items, from + chunk); i++)
                        {
                            ids.Clear();
                            tokenizer.Encode(texts[(int)(i % texts.Count)], ids);
                        }
                    }
                },
                cancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }
        await Task.WhenAll(workers).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static long Run(ITextTokenizer tokenizer, List<string> texts, int from, int to)
    {
        long tokens = 0;
        using var ids = new TokenBuffer(4096);
        for (int i = from; i < to; i++)
        {
            ids.Clear();
            tokenizer.Encode(texts[i], ids);
            tokens += ids.Count;
        }
        return tokens;
    }
}
