using System.Runtime.CompilerServices;
using StreamLoader.Batcher.Measurement;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tests.Batcher;

/// <summary>
/// <see cref="TokenizerCeiling"/>: the ceiling <c>bench</c> reports, the provider alone, and the tokenizer beside a
/// reading provider. What is checked is what was measured and that it ends, never how fast.
/// </summary>
public sealed class TokenizerCeilingTests
{
    /// <summary>An in-memory source of n short documents; from the given open on, each open fails on its first read.</summary>
    private sealed class MemorySource : IDocumentSource
    {
        private readonly int _count;
        private readonly int _failFromOpen;
        private readonly Action _opened;
        private int _reads;

        public MemorySource(int count, int failFromOpen, Action opened)
        {
            _count = count;
            _failFromOpen = failFromOpen;
            _opened = opened;
        }

        public string Description => "memory";

        public string Fingerprint => $"memory|{_count}";

        public SourceStatistics Statistics { get; } = new();

        public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            _opened();
            if (Interlocked.Increment(ref _reads) >= _failFromOpen)
            {
                throw new IOException("memory: the source went away");
            }
            for (int i = 0; i < _count; i++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                yield return new Document(i.ToString(System.Globalization.CultureInfo.InvariantCulture), $"Document {i} holds a few words of plain prose, enough to tokenize.");
            }
        }
    }

    [Fact]
    public async Task Measure_ReportsTheCeiling_TheProviderAlone_AndTheTokenizerBesideAReadingProvider()
    {
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        int opens = 0;
        var source = new MemorySource(40, int.MaxValue, () => Interlocked.Increment(ref opens));

        TokenizerCeilingResult result = await TokenizerCeiling.MeasureAsync(() => source, tokenizer, documents: 30, threads: 2, maxChars: 1 << 20, CancellationToken.None);

        Assert.Equal(30, result.Documents);
        Assert.False(result.Truncated);
        Assert.True(result.Tokens > 30);
        Assert.True(result.SingleThreadTokensPerSecond > 0);
        Assert.True(result.AllThreadsTokensPerSecond > 0);
        Assert.True(result.ProviderSeconds > 0);
        Assert.Equal(result.Tokens / result.ProviderSeconds, result.ProviderTokensPerSecond);
        if (Environment.ProcessorCount > 1)
        {
            // The source was opened again for the reader beside the tokenizer, and that reader has stopped.
            Assert.True(result.BesideProviderTokensPerSecond > 0);
            Assert.True(Volatile.Read(ref opens) >= 2);
            int after = Volatile.Read(ref opens);
            await Task.Delay(100, CancellationToken.None);
            Assert.Equal(after, Volatile.Read(ref opens));
        }
        else
        {
            Assert.Null(result.BesideProviderTokensPerSecond);
        }
    }

    [SkippableFact]
    public async Task Measure_WhenTheSourceFailsBesideTheTokenizer_FailsWithItsError_InsteadOfWaiting()
    {
        Skip.If(Environment.ProcessorCount < 2, "the tokenizer is timed beside a reading provider only on two cores or more");
        ITextTokenizer tokenizer = TokenizerFactory.CreateTiktoken();
        // The first open (the documents to measure) reads; the second (the reader beside the tokenizer) fails at once.
        var source = new MemorySource(20, failFromOpen: 2, () => { });

        Task<TokenizerCeilingResult> measuring = TokenizerCeiling.MeasureAsync(() => source, tokenizer, documents: 20, threads: 1, maxChars: 1 << 20, CancellationToken.None);

        Task finished = await Task.WhenAny(measuring, Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Same(measuring, finished);
        IOException error = await Assert.ThrowsAsync<IOException>(() => measuring);
        Assert.Contains("went away", error.Message, StringComparison.Ordinal);
    }
}
