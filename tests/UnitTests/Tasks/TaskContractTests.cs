using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

/// <summary>
/// The contract every task plugin must meet, run against each one: fixed shapes, determinism, nothing lost, clean
/// disposal, validated settings, and an inspect rendering. A new task gets these tests by adding one subclass.
/// </summary>
public abstract class TaskContractTests
{
    protected abstract ITrainingTask CreateTask();

    /// <summary>Documents as the task expects them (classification tasks need labels).</summary>
    protected virtual Document MakeDocument(int index, string text) => new(index.ToString(), text) { Ordinal = index };

    /// <summary>True when the task's batches depend on the seed (masking, span corruption).</summary>
    protected virtual bool UsesSeed => true;

    protected const int SequenceLength = 32;
    protected const int BatchSize = 4;

    protected static readonly TestTokenizer Tokenizer = new(500);

    protected List<TensorBatch> BuildBatches(IEnumerable<string> texts, int seed = 1, TaskSettings? settings = null)
    {
        ITrainingTask task = CreateTask();
        IBatchBuilder builder = task.CreateBatchBuilder(new BatchingContext(Tokenizer, SequenceLength, BatchSize, seed, settings));
        var batches = new List<TensorBatch>();
        int index = 0;
        foreach (string text in texts)
        {
            var ids = new TokenBuffer();
            Tokenizer.Encode(text, ids);
            using var doc = new TokenizedDocument(MakeDocument(index++, text), ids);
            builder.Add(doc, batches);
        }
        builder.Complete(batches);
        return batches;
    }

    protected static IEnumerable<string> Corpus(int documents = 60) =>
        Enumerable.Range(0, documents).Select(i => TestTokenizer.Words(1 + (i * 13 % 90), i));

    [Fact]
    public void Task_IsDiscoverableWithNameDescriptionAndSnakeCaseSettings()
    {
        ITrainingTask task = CreateTask();
        TaskCatalog catalog = TaskCatalog.Discover(task.GetType().Assembly);

        Assert.Same(task.GetType(), catalog.Get(task.Name).GetType());
        Assert.Matches("^[a-z0-9-]+$", task.Name);
        Assert.False(string.IsNullOrWhiteSpace(task.Description));
        Assert.All(task.Options, o => Assert.Matches("^[a-z0-9_]+$", o.Key));
    }

    [Fact]
    public void Settings_UnknownKey_IsRejectedNamingTheTask()
    {
        ITrainingTask task = CreateTask();
        FormatException error = Assert.Throws<FormatException>(() => TaskSettings.Parse(["no_such_setting=1"]).ValidateAgainst(task));
        Assert.Contains(task.Name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batches_HaveFixedShapesAndSequenceNumbers()
    {
        List<TensorBatch> batches = BuildBatches(Corpus());
        try
        {
            Assert.NotEmpty(batches);
            for (int i = 0; i < batches.Count; i++)
            {
                TensorBatch batch = batches[i];
                Assert.Equal(i, batch.Sequence);
                Assert.Equal(CreateTask().Name, batch.Task);
                Assert.True(batch.TryGet("input_ids", out TensorBuffer ids));
                Assert.Equal(BatchSize, ids.Shape[0]);
                Assert.All(batch.Tensors, t => Assert.Equal(BatchSize, t.Shape[0]));
                Assert.InRange(batch.RowCount, 1, BatchSize);
                Assert.True(batch.TokenCount > 0);
            }
            // Every full batch but possibly the last has all its rows.
            Assert.All(batches.SkipLast(1), b => Assert.Equal(BatchSize, b.RowCount));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Batches_SameSeedSameBytes_DifferentSeedDifferentBytes()
    {
        List<TensorBatch> a = BuildBatches(Corpus(), seed: 7);
        List<TensorBatch> b = BuildBatches(Corpus(), seed: 7);
        List<TensorBatch> c = BuildBatches(Corpus(), seed: 8);
        try
        {
            Assert.Equal(Fingerprint(a), Fingerprint(b));
            if (UsesSeed)
            {
                Assert.NotEqual(Fingerprint(a), Fingerprint(c));
            }
        }
        finally
        {
            foreach (TensorBatch batch in a.Concat(b).Concat(c))
            {
                batch.Dispose();
            }
        }
    }

    [Fact]
    public void Complete_WithNoDocuments_EmitsNothing()
    {
        Assert.Empty(BuildBatches([]));
        Assert.Empty(BuildBatches(["", "   "]));
    }

    [Fact]
    public void Render_DecodesRowsForInspect()
    {
        List<TensorBatch> batches = BuildBatches(Corpus(8));
        try
        {
            var output = new StringWriter();
            CreateTask().Render(batches[0], Tokenizer, output, maxRows: 2);
            string text = output.ToString();
            Assert.Contains("batch 0", text, StringComparison.Ordinal);
            Assert.Contains("[0]", text, StringComparison.Ordinal);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Dispose_ReturnsBuffersAndIsIdempotent()
    {
        List<TensorBatch> batches = BuildBatches(Corpus(8));
        TensorBatch batch = batches[0];
        batches.ForEach(b => b.Dispose());
        batch.Dispose();
        Assert.Throws<ObjectDisposedException>(() => batch.Tensors[0].Bytes.ToArray());
    }

    protected static string Fingerprint(IEnumerable<TensorBatch> batches) =>
        string.Join("|", batches.Select(b => string.Join(",", b.Tensors.Select(t => $"{t.Name}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(t.Bytes))}"))));
}
