using System.Runtime.CompilerServices;
using StreamLoader.Batcher.Measurement;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

/// <summary>
/// <see cref="TokenizerCeiling"/>: the ceiling <c>bench</c> reports, the provider alone, and the tokenizer beside a
/// reading provider. What is checked is what was measured and that it ends, never how fast.
/// </summary>
public sealed class TokenizerCeilingTests
{
    /// <summary>What a read of <see cref="MemorySource"/> does from its nth on.</summary>
    public enum LaterReads
    {
        /// <summary>Reads the documents, as the first read does.</summary>
        Read,

        /// <summary>Fails at once.</summary>
        Fail,

        /// <summary>Yields nothing (the file was emptied since).</summary>
        Empty,

        /// <summary>Waits until it is cancelled (a stalled download).</summary>
        Stall,
    }

    /// <summary>An in-memory source of n short documents; reads from the <c>from</c>th on behave as <see cref="LaterReads"/> says.</summary>
    private sealed class MemorySource : IDocumentSource
    {
        private readonly int _count;
        private readonly LaterReads _later;
        private readonly int _from;
        private int _reads;

        public MemorySource(int count, LaterReads later = LaterReads.Read, int from = 2)
        {
            _count = count;
            _later = later;
            _from = from;
        }

        public int Reads => Volatile.Read(ref _reads);

        public string Description => "memory";

        public string Fingerprint => $"memory|{_count}";

        public SourceStatistics Statistics { get; } = new();

        public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            LaterReads now = Interlocked.Increment(ref _reads) >= _from ? _later : LaterReads.Read;
            switch (now)
            {
                case LaterReads.Fail:
                    throw new IOException("memory: the source went away");
                case LaterReads.Empty:
                    yield break;
                case LaterReads.Stall:
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                    break;
            }
            for (int i = 0; i < _count; i++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                yield return new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), $"Document {i} holds a few words of plain prose, enough to tokenize.");
            }
        }
    }

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Measure_ReportsTheCeiling_TheProviderAlone_AndTheTokenizerBesideAReadingProvider()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var first = new MemorySource(40);
        var beside = new MemorySource(40, from: int.MaxValue);
        var made = new Queue<MemorySource>([first, beside]);

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 30, threads: 2, maxChars: 1 << 20, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(30, result.Documents);
        Assert.False(result.Truncated);
        Assert.True(result.Tokens > 30);
        Assert.True(result.SingleThreadTokensPerSecond > 0);
        Assert.True(result.AllThreadsTokensPerSecond > 0);
        Assert.True(result.ProviderSeconds > 0);
        Assert.Equal(result.Tokens / result.ProviderSeconds, result.ProviderTokensPerSecond);
        Assert.Equal(1, first.Reads);
        if (Environment.ProcessorCount > 1)
        {
            // A second source was made for the reader beside the tokenizer, and read at least once.
            Assert.True(result.BesideProviderTokensPerSecond > 0);
            Assert.Null(result.BesideProviderFailure);
            Assert.True(beside.Reads >= 1);
        }
        else
        {
            Assert.Null(result.BesideProviderTokensPerSecond);
            Assert.Equal(0, beside.Reads);
        }
    }

    /// <summary>A builder that counts what it is given, makes one batch per document, and can fail at its nth document.</summary>
    private sealed class CountingBuilder : IBatchBuilder
    {
        private readonly int _failAt;

        private readonly TimeSpan _completing;

        public CountingBuilder(int failAt = int.MaxValue, TimeSpan completing = default)
        {
            _failAt = failAt;
            _completing = completing;
        }

        public int Documents { get; private set; }

        public long Tokens { get; private set; }

        public void Add(TokenizedDocument document, List<TensorBatch> completed)
        {
            if (++Documents == _failAt)
            {
                throw new InvalidOperationException("the builder refused document " + document.Source.Id);
            }
            Tokens += document.Count;
            var batch = new TensorBatch("count", Documents);
            batch.Add("input_ids", TensorDType.I64, [1, document.Count]);
            completed.Add(batch);
        }

        public void Complete(List<TensorBatch> completed)
        {
            // A builder that holds documents back (infer's sort window) does its last work here.
            Thread.Sleep(_completing);
        }
    }

    [Fact]
    public async Task Measure_WithABuilder_TimesItOnTheSameDocumentsTokens()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var made = new Queue<MemorySource>([new MemorySource(40), new MemorySource(40, from: int.MaxValue)]);
        var builders = new List<CountingBuilder>();

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 30, threads: 1, maxChars: 1 << 20, CancellationToken.None, () =>
        {
            var builder = new CountingBuilder();
            builders.Add(builder);
            return builder;
        }).WaitAsync(Bound);

        // A builder that warms up on the first documents (here all 30), and a fresh one given every measured document once.
        Assert.Equal(2, builders.Count);
        Assert.Equal(30, builders[0].Documents);
        Assert.Equal(30, builders[1].Documents);
        Assert.True(builders[1].Tokens >= result.Tokens);
        Assert.True(result.BuilderSeconds > 0);
        Assert.Null(result.BuilderFailure);
        Assert.Equal(result.Tokens / result.BuilderSeconds, result.BuilderTokensPerSecond);
    }

    [Fact]
    public async Task Measure_WithABuilder_CountsItsCompletionInItsTime()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var made = new Queue<MemorySource>([new MemorySource(10), new MemorySource(10, from: int.MaxValue)]);

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 10, threads: 1, maxChars: 1 << 20, CancellationToken.None, () => new CountingBuilder(completing: TimeSpan.FromMilliseconds(200))).WaitAsync(Bound);

        Assert.True(result.BuilderSeconds >= 0.2, $"builder seconds {result.BuilderSeconds}");
    }

    [Fact]
    public async Task Measure_WhenTheBuilderFails_SaysWhy_AndStillReportsTheRest()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var made = new Queue<MemorySource>([new MemorySource(20), new MemorySource(20, from: int.MaxValue)]);

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 20, threads: 1, maxChars: 1 << 20, CancellationToken.None, () => new CountingBuilder(failAt: 5)).WaitAsync(Bound);

        Assert.Null(result.BuilderSeconds);
        Assert.Null(result.BuilderTokensPerSecond);
        Assert.Contains("refused document 4", result.BuilderFailure, StringComparison.Ordinal);
        Assert.True(result.SingleThreadTokensPerSecond > 0);
    }

    [Fact]
    public async Task Measure_WithoutABuilder_ReportsNone()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var made = new Queue<MemorySource>([new MemorySource(10), new MemorySource(10, from: int.MaxValue)]);

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 10, threads: 1, maxChars: 1 << 20, CancellationToken.None).WaitAsync(Bound);

        Assert.Null(result.BuilderSeconds);
        Assert.Null(result.BuilderFailure);
    }

    [SkippableTheory]
    [InlineData(LaterReads.Fail, "went away")]
    [InlineData(LaterReads.Empty, "held no documents")]
    public async Task Measure_WhenTheReaderBesideTheTokenizerFailsOrFindsNothing_SaysWhy_InsteadOfTimingWithoutIt(LaterReads later, string why)
    {
        Skip.If(Environment.ProcessorCount < 2, "the tokenizer is timed beside a reading provider only on two cores or more");
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        // The first source reads; the second, the reader beside the tokenizer, fails or is empty at once.
        var made = new Queue<MemorySource>([new MemorySource(20), new MemorySource(20, later, from: 1)]);

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 20, threads: 1, maxChars: 1 << 20, CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(20, result.Documents);
        Assert.True(result.SingleThreadTokensPerSecond > 0);
        Assert.Null(result.BesideProviderTokensPerSecond);
        Assert.Contains(why, result.BesideProviderFailure, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Measure_CancelledWhileTheReaderBesideTheTokenizerStalls_EndsWithCancellation()
    {
        Skip.If(Environment.ProcessorCount < 2, "the tokenizer is timed beside a reading provider only on two cores or more");
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        var stalled = new MemorySource(20, LaterReads.Stall, from: 1);
        var made = new Queue<MemorySource>([new MemorySource(20), stalled]);
        using var cancel = new CancellationTokenSource();

        Task<TokenizerCeilingResult> measuring = TokenizerCeiling.MeasureAsync(made.Dequeue, tokenizer, documents: 20, threads: 1, maxChars: 1 << 20, cancel.Token);
        // Cancelled once the reader beside the tokenizer has begun its read, which stalls until then.
        await Eventually.TrueAsync(() => stalled.Reads >= 1, "the reader beside the tokenizer has begun to read", Bound.TotalSeconds);
        Assert.False(measuring.IsCompleted, "the measurement ended while the reader beside the tokenizer stalled");
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => measuring.WaitAsync(Bound));
    }
}
