using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Classify;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

public sealed class ClassificationTaskTests : TaskContractTests
{
    private static readonly string[] s_names = ["alpha", "beta", "gamma"];

    protected override ITrainingTask CreateTask() => new ClassificationTask();

    protected override bool UsesSeed => false;

    protected override LabelSet? Labels => new(s_names);

    protected override Document MakeDocument(int index, string text) => base.MakeDocument(index, text) with { Labels = [s_names[index % 3]] };

    [Fact]
    public void Rows_OnePerDocument_WithTheLabelIndex_AndUnlabelledOrUnknownCounted()
    {
        Document[] documents =
        [
            new("a", "one two three") { Ordinal = 0, Labels = ["gamma"] },
            new("b", "four five") { Ordinal = 1, Labels = ["1"] },          // an index
            new("c", "six") { Ordinal = 2 },                                // no label
            new("d", "seven") { Ordinal = 3, Labels = ["delta"] },          // unknown
            new("e", "eight nine") { Ordinal = 4, Labels = ["alpha", "beta"] }, // two labels for a single-label task
            new("f", string.Join(' ', Enumerable.Repeat("w", 100))) { Ordinal = 5, Labels = ["alpha"] }, // cut to the row
        ];
        BatchingContext context = Context(1);
        List<TensorBatch> batches = Build(documents, context);
        try
        {
            TensorBatch batch = Assert.Single(batches);
            Assert.Equal(3, batch.RowCount);
            Assert.Equal([2L, 1L, 0L, TaskTensors.IgnoreIndex], batch[TaskTensors.Labels].AsSpan<long>().ToArray());
            Assert.Equal("alpha\nbeta\ngamma", batch.Metadata[BatchMetadataKeys.LabelNames]);
            IReadOnlyDictionary<string, long> counts = context.Counters.Snapshot();
            Assert.Equal(1, counts["no_label"]);
            Assert.Equal(1, counts["unknown_label"]);
            Assert.Equal(1, counts["several_labels"]);
            Assert.Equal(1, counts["truncated"]);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void HeldOut_DocumentsGoToEvalBatchesOnce_AndTheSplitIsTheSameForTheSameSeed()
    {
        Document[] documents = Corpus(200).Select((t, i) => MakeDocument(i, t)).ToArray();
        var context = new BatchingContext(Tokenizer, SequenceLength, BatchSize, 1) { Labels = Labels, HeldOut = HeldOutSplit.Parse("0.2", 5) };
        // Two epochs: the second repeats every document; the held-out ones must not be sent twice.
        List<TensorBatch> batches = Build(documents.Concat(documents.Select(d => d with { Ordinal = d.Ordinal + 200 })), context);
        try
        {
            long heldOut = batches.Where(b => b.Metadata.GetValueOrDefault(BatchMetadataKeys.Split) == BatchMetadataKeys.EvalSplit).Sum(b => b.RowCount);
            long trained = batches.Where(b => !b.Metadata.ContainsKey(BatchMetadataKeys.Split)).Sum(b => b.RowCount);
            long expectedHeldOut = documents.Count(d => HeldOutSplit.Parse("0.2", 5).IsHeldOut(d.Id, null));
            Assert.InRange(expectedHeldOut, 25, 55);
            Assert.Equal(expectedHeldOut, heldOut);
            Assert.Equal(2 * (200 - expectedHeldOut), trained);
            Assert.Equal(Enumerable.Range(0, batches.Count).Select(i => (long)i), batches.Select(b => b.Sequence));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void HeldOutSplit_ByFile_MatchesTheSourceName()
    {
        HeldOutSplit split = HeldOutSplit.Parse("file:dev.tsv", 0);
        Assert.True(split.IsHeldOut("1:x", "/data/goemotions/dev.tsv"));
        Assert.False(split.IsHeldOut("0:x", "/data/goemotions/train.tsv"));
        Assert.False(split.IsHeldOut("x", null));
        Assert.Throws<FormatException>(() => HeldOutSplit.Parse("1.5", 0));
    }
}

public sealed class MultiLabelClassificationTaskTests : TaskContractTests
{
    protected override ITrainingTask CreateTask() => new MultiLabelClassificationTask();

    protected override bool UsesSeed => false;

    protected override LabelSet? Labels => new(["admiration", "anger", "joy", "neutral"]);

    protected override Document MakeDocument(int index, string text) =>
        base.MakeDocument(index, text) with { Labels = index % 2 == 0 ? ["0", "2"] : ["neutral"] };

    [Fact]
    public void Rows_AreMultiHot_FromIdsOrNames()
    {
        List<TensorBatch> batches = BuildBatches(["a b c", "d e"]);
        try
        {
            TensorBatch batch = Assert.Single(batches);
            float[] labels = batch[TaskTensors.Labels].AsSpan<float>().ToArray();
            Assert.Equal([1f, 0f, 1f, 0f, 0f, 0f, 0f, 1f], labels[..8]);
            Assert.All(labels[8..], v => Assert.Equal(TaskTensors.IgnoreIndex, v));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void LabelSet_ReadsAFileOrAList_AndObservedIdsBecomeNumbers()
    {
        using var files = new TempFiles();
        string path = files.Path("labels.txt");
        File.WriteAllText(path, "admiration\namusement\n\n");
        Assert.Equal(["admiration", "amusement"], LabelSet.Parse(path).Names);
        Assert.Equal(["x", "y"], LabelSet.Parse("x, y").Names);
        Assert.Equal(["0", "1", "2", "3"], LabelSet.FromObserved(["3", "0", "1"]).Names);
        Assert.Equal(["a", "b"], LabelSet.FromObserved(["b", "a", "b"]).Names);
        Assert.Equal(1, LabelSet.Parse(path).IndexOf("1"));
        Assert.Equal(-1, LabelSet.Parse(path).IndexOf("7"));
    }
}
