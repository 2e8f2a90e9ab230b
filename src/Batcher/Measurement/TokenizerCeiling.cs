using System.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Measurement;

/// <summary>The raw tokenizer's speed on a set of documents: the ceiling a loader that uses it can reach.</summary>
/// <param name="Documents">Documents measured.</param>
/// <param name="Tokens">Tokens they gave.</param>
/// <param name="SingleThreadSeconds">Time to tokenize them all on one thread.</param>
/// <param name="AllThreadsSeconds">Time to tokenize them all on <paramref name="Threads"/> threads.</param>
/// <param name="Threads">Threads of the parallel measurement.</param>
/// <param name="Truncated">True when the documents were cut at the character budget: the ceiling is of a prefix.</param>
public sealed record TokenizerCeilingResult(long Documents, long Tokens, double SingleThreadSeconds, double AllThreadsSeconds, int Threads, bool Truncated)
{
    /// <summary>Tokens per second on one thread.</summary>
    public double SingleThreadTokensPerSecond => SingleThreadSeconds > 0 ? Tokens / SingleThreadSeconds : 0;

    /// <summary>Tokens per second on every thread: the ceiling.</summary>
    public double AllThreadsTokensPerSecond => AllThreadsSeconds > 0 ? Tokens / AllThreadsSeconds : 0;
}

/// <summary>
/// Measures the tokenizer alone on the documents a run used (read again from the source, in source order), on one
/// thread and on all, with nothing else running: what <c>streamloader bench</c> compares the pipeline against.
/// </summary>
public static class TokenizerCeiling
{
    /// <summary>Reads up to <paramref name="documents"/> documents (and at most <paramref name="maxChars"/> characters) and times the tokenizer on them.</summary>
    public static async Task<TokenizerCeilingResult> MeasureAsync(IDocumentSource source, ITextTokenizer tokenizer, long documents, int threads, long maxChars, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var texts = new List<string>();
        long chars = 0;
        bool truncated = false;
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
            texts.Add(document.Text);
            chars += document.Length;
        }

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

        // As many passes per thread; twice, keeping the faster (the first also starts the threads and compiles their loop).
        long items = (long)texts.Count * passes * threads;
        double all = Math.Min(
            await ParallelSecondsAsync(tokenizer, texts, items, threads, cancellationToken).ConfigureAwait(false),
            await ParallelSecondsAsync(tokenizer, texts, items, threads, cancellationToken).ConfigureAwait(false)) / ((double)passes * threads);
        return new TokenizerCeilingResult(texts.Count, tokens, single, all, threads, truncated);
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
