using StreamLoader.Batcher.Parallel;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

public sealed class OrderedTokenizerPoolTests
{
    private static async Task<List<(string Id, int[] Ids)>> RunAsync(ITextTokenizer tokenizer, int workers, IReadOnlyList<Document> documents)
    {
        var pipeline = new Pipeline();
        PipelineChannel<Document> channel = pipeline.CreateChannel<Document>("docs", 8);
        var results = new List<(string, int[])>();
        pipeline.AddStage("feed", async stage =>
        {
            StageWriter<Document> output = stage.Writer(channel);
            foreach (Document d in documents)
            {
                await output.WriteAsync(d);
            }
        });
        pipeline.AddStage("tokenize", stage => new OrderedTokenizerPool(tokenizer, workers, chunkDocuments: 3).RunAsync(
            stage.Reader(channel),
            doc =>
            {
                using (doc)
                {
                    results.Add((doc.Source.Id, doc.Ids.ToArray()));
                }
                return ValueTask.CompletedTask;
            },
            stage.Counters,
            stage.CancellationToken));
        await pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return results;
    }

    private static List<Document> Documents(int count) =>
        Enumerable.Range(0, count).Select(i => new Document(i.ToString(), TestTokenizer.Words(1 + (i * 37 % 400), i))).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    public async Task RunAsync_AnyWorkerCount_KeepsInputOrderAndEveryToken(int workers)
    {
        var tokenizer = new TestTokenizer();
        List<Document> docs = Documents(500);

        List<(string Id, int[] Ids)> results = await RunAsync(tokenizer, workers, docs);

        Assert.Equal(docs.Select(d => d.Id), results.Select(r => r.Id));
        for (int i = 0; i < docs.Count; i++)
        {
            using var expected = new TokenBuffer();
            tokenizer.Encode(docs[i].Text, expected);
            Assert.Equal(expected.Span.ToArray(), results[i].Ids);
        }
    }

    private sealed class ExplodingTokenizer : ITextTokenizer
    {
        private readonly TestTokenizer _inner = new();

        public string Name => "exploding";

        public int VocabularySize => _inner.VocabularySize;

        public SpecialTokens Special => _inner.Special;

        public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
        {
            if (text.Contains("boom", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("tokenizer exploded");
            }
            _inner.Encode(text, output);
        }

        public string Decode(ReadOnlySpan<int> ids) => _inner.Decode(ids);

        public string IdToToken(int id) => _inner.IdToToken(id);
    }

    [Fact]
    public async Task RunAsync_TokenizerThrows_FailsNamingTheDocumentWithoutHanging()
    {
        List<Document> docs = Documents(200);
        docs[120] = new Document("bad-doc", "this one goes boom") { Ordinal = 120 };

        PipelineStageException error = await Assert.ThrowsAsync<PipelineStageException>(() => RunAsync(new ExplodingTokenizer(), 3, docs));

        Assert.Equal("tokenize", error.Stage);
        Assert.Contains("bad-doc", error.InnerException!.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer exploded", error.InnerException.Message, StringComparison.Ordinal);
    }
    /// <summary>
    /// Stops the pool at random points, hundreds of times, the two ways a run stops: the consumer ends the run after
    /// a random number of documents (a step limit), or the caller cancels after a random delay (Ctrl+C). Each trial
    /// must end within its timeout; before the fix about one in ten hung forever.
    /// </summary>
    [Fact]
    public async Task RunAsync_StoppedAtRandomPoints_NeverHangs()
    {
        var tokenizer = new TestTokenizer();
        List<Document> docs = Enumerable.Range(0, 3000).Select(i => new Document(i.ToString(), $"word{i} alpha beta gamma") { Ordinal = i }).ToList();
        var random = new Random(1234);
        int hung = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            int workers = 1 + random.Next(4);
            int stopAfter = random.Next(1, 2500);
            bool byCaller = trial % 2 == 1;
            int delayMicros = random.Next(0, 3000);
            using var cancel = new CancellationTokenSource();
            var pipeline = new Pipeline();
            PipelineChannel<Document> channel = pipeline.CreateChannel<Document>("docs", 1 + random.Next(64));
            pipeline.AddStage("feed", async stage =>
            {
                StageWriter<Document> output = stage.Writer(channel);
                foreach (Document d in docs)
                {
                    await output.WriteAsync(d);
                }
            });
            int seen = 0;
            pipeline.AddStage("tokenize", stage => new OrderedTokenizerPool(tokenizer, workers, chunkDocuments: 1 + random.Next(8)).RunAsync(
                stage.Reader(channel),
                doc =>
                {
                    doc.Dispose();
                    if (++seen == stopAfter && !byCaller)
                    {
                        stage.StopPipeline();
                    }
                    return ValueTask.CompletedTask;
                },
                stage.Counters,
                stage.CancellationToken));
            if (byCaller)
            {
                cancel.CancelAfter(TimeSpan.FromTicks(delayMicros * 10));
            }
            Task run = pipeline.RunAsync(cancel.Token);
            try
            {
                await run.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                hung++;
            }
            catch (OperationCanceledException)
            {
            }
        }
        Assert.Equal(0, hung);
    }
}
