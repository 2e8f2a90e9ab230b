using StreamLoader.Batcher.Tokenizers;
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
    protected virtual Document MakeDocument(int index, string text) => new(index.ToString(), text) { Ordinal = index, SourcePart = SourcePartOf(index), SourceOrdinal = SourceOrdinalOf(index) };

    /// <summary>Where document <paramref name="index"/> of a test corpus stands in its source: parts of 25 documents.</summary>
    protected static int SourcePartOf(int index) => index / 25;

    /// <inheritdoc cref="SourcePartOf"/>
    protected static long SourceOrdinalOf(int index) => index % 25;

    /// <summary>True when the task's batches depend on the seed (masking, span corruption).</summary>
    protected virtual bool UsesSeed => true;

    protected const int SequenceLength = 32;
    protected const int BatchSize = 4;

    private ITextTokenizer? _tokenizer;

    /// <summary>A test tokenizer with the special tokens the task declares (span: 100 sentinels).</summary>
    protected ITextTokenizer Tokenizer => _tokenizer ??= AddedTokensTokenizer.Wrap(new TestTokenizer(500), CreateTask().AddedSpecialTokens);

    /// <summary>The label names a classification task is given.</summary>
    protected virtual LabelSet? Labels => null;

    /// <summary>The settings the contract runs the task with (a variant such as mlm with packing).</summary>
    protected virtual TaskSettings? Settings => null;

    protected BatchingContext Context(int seed, TaskSettings? settings = null, long firstSequence = 0) =>
        new(Tokenizer, SequenceLength, BatchSize, seed, settings ?? Settings) { Labels = Labels, FirstBatchSequence = firstSequence };

    protected List<TensorBatch> BuildBatches(IEnumerable<string> texts, int seed = 1, TaskSettings? settings = null) =>
        Build(texts.Select((text, i) => MakeDocument(i, text)), Context(seed, settings));

    /// <summary>Runs documents through a builder as the batcher does: a resumed first document loses its consumed tokens.</summary>
    protected List<TensorBatch> Build(IEnumerable<Document> documents, BatchingContext context, long resumeOrdinal = -1, int resumeOffset = 0)
    {
        IBatchBuilder builder = CreateTask().CreateBatchBuilder(context);
        var batches = new List<TensorBatch>();
        foreach (Document document in documents)
        {
            var ids = new TokenBuffer();
            context.Tokenizer.Encode(document.Text, ids);
            using var doc = new TokenizedDocument(document, ids);
            if (document.Ordinal == resumeOrdinal && resumeOffset > 0)
            {
                doc.SkipLeading(resumeOffset);
            }
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

    [Fact]
    public void Batches_CarryTheTensorsTheTaskDescribes()
    {
        List<TensorBatch> batches = BuildBatches(Corpus());
        try
        {
            string[] described = CreateTask().DescribeBatch(Context(1)).Select(s => s.ToString()).ToArray();
            Assert.All(batches, b => Assert.Equal(described, b.Tensors.Select(t => new TensorSpec(t.Name, t.DType, t.Shape).ToString()).ToArray()));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Labels_NoneOnPaddingPositionsOrPaddingRows()
    {
        List<TensorBatch> batches = BuildBatches(Corpus(37));
        try
        {
            foreach (TensorBatch batch in batches)
            {
                if (!batch.TryGet(TaskTensors.Labels, out TensorBuffer labels))
                {
                    continue;
                }
                int perRow = (int)(labels.ElementCount / labels.Shape[0]);
                double[] values = labels.DType == TensorDType.F32 ? labels.AsSpan<float>().ToArray().Select(v => (double)v).ToArray() : labels.AsSpan<long>().ToArray().Select(v => (double)v).ToArray();
                for (int row = batch.RowCount; row < labels.Shape[0]; row++)
                {
                    Assert.All(values.Skip(row * perRow).Take(perRow), v => Assert.Equal(TaskTensors.IgnoreIndex, v));
                }
                if (labels.Shape.SequenceEqual(batch[TaskTensors.AttentionMask].Shape))
                {
                    long[] mask = batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray();
                    for (int i = 0; i < mask.Length; i++)
                    {
                        Assert.True(mask[i] == 1 || values[i] == TaskTensors.IgnoreIndex, $"batch {batch.Sequence}: a label at padding position {i}");
                    }
                }
            }
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Resume_AfterAnyBatch_ContinuesWithExactlyTheBatchesThatFollowed()
    {
        Document[] documents = Corpus(40).Select((text, i) => MakeDocument(i, text)).ToArray();
        List<TensorBatch> full = Build(documents, Context(3));
        try
        {
            Assert.True(full.Count >= 3, "the corpus should make several batches");
            for (int k = 0; k < full.Count - 1; k++)
            {
                Assert.True(full[k].Metadata.TryGetValue(BatchMetadataKeys.ResumeOrdinal, out string? ordinalText), $"batch {k} says where a resumed run continues");
                long ordinal = long.Parse(ordinalText!, System.Globalization.CultureInfo.InvariantCulture);
                int offset = int.Parse(full[k].Metadata.GetValueOrDefault(BatchMetadataKeys.ResumeOffset, "0"), System.Globalization.CultureInfo.InvariantCulture);
                List<TensorBatch> resumed = Build(documents.Where(d => d.Ordinal >= ordinal), Context(3, firstSequence: full[k].Sequence + 1), ordinal, offset);
                try
                {
                    Assert.Equal(Fingerprint(full.Skip(k + 1)), Fingerprint(resumed));
                    Assert.Equal(full.Skip(k + 1).Select(b => b.Sequence), resumed.Select(b => b.Sequence));
                }
                finally
                {
                    resumed.ForEach(b => b.Dispose());
                }
            }
        }
        finally
        {
            full.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Rows_OfOneDocument_CarryWhereItStandsInTheSource()
    {
        List<TensorBatch> batches = BuildBatches(Corpus(37));
        try
        {
            if (!CreateTask().DescribeBatch(Context(1)).Any(s => s.Name == TaskTensors.SourceOrdinal))
            {
                // Packed rows hold several documents: their boundaries are in document_ids, not one source per row.
                Assert.All(batches, b => Assert.False(b.TryGet(TaskTensors.SourceOrdinal, out _)));
                return;
            }
            var seen = new HashSet<(long, long)>();
            foreach (TensorBatch batch in batches)
            {
                long[] parts = batch[TaskTensors.SourcePart].AsSpan<long>().ToArray();
                long[] ordinals = batch[TaskTensors.SourceOrdinal].AsSpan<long>().ToArray();
                for (int row = 0; row < parts.Length; row++)
                {
                    if (row >= batch.RowCount)
                    {
                        Assert.Equal((-1L, -1L), (parts[row], ordinals[row]));
                        continue;
                    }
                    Assert.InRange(parts[row], 0, 1);
                    Assert.InRange(ordinals[row], 0, 24);
                    seen.Add((parts[row], ordinals[row]));
                }
            }
            // Every document with tokens has at least one row naming it.
            IEnumerable<(long, long)> expected = Corpus(37).Select((text, i) => (text, i)).Where(d => d.text.Length > 0).Select(d => ((long)SourcePartOf(d.i), SourceOrdinalOf(d.i)));
            Assert.Equal(expected.Order(), seen.Order());
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    protected static string Fingerprint(IEnumerable<TensorBatch> batches) =>
        string.Join("|", batches.Select(b => string.Join(",", b.Tensors.Select(t => $"{t.Name}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(t.Bytes))}"))));
}
