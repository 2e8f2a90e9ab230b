using System.Globalization;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Results;
using StreamLoader.Results.Ordering;
using StreamLoader.Tasks.Infer;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

/// <summary>
/// What inference batching promises: every document once (a row or a skip), watermarks that let the writer restore
/// input order, sorted batches within the token budget and trimmed, windows that a resumed run or another rank forms
/// alike, and comparison batches of the other layout from the same documents.
/// </summary>
public sealed class InferenceTaskTests
{
    private const int SequenceLength = 48;
    private static readonly ITextTokenizer s_tokenizer = new TestTokenizer(500);

    /// <summary>Documents of 0 to 80 words (every 9th empty), in two parts of <paramref name="perPart"/>.</summary>
    private static Document[] Corpus(int count, int perPart = 70) => Enumerable.Range(0, count)
        .Select(i => new Document($"doc{i}", i % 9 == 4 ? string.Empty : TestTokenizer.Words((i * 37 % 81) + 1, i))
        {
            Ordinal = i,
            SourcePart = i / perPart,
            SourceOrdinal = i % perPart,
        })
        .ToArray();

    private static BatchingContext Context(params string[] settings) =>
        new(s_tokenizer, SequenceLength, 8, 1, TaskSettings.Parse(settings));

    private static List<TensorBatch> Build(IEnumerable<Document> documents, BatchingContext context)
    {
        IBatchBuilder builder = new ClassifierInferenceTask().CreateBatchBuilder(context);
        var batches = new List<TensorBatch>();
        foreach (Document document in documents)
        {
            var ids = new TokenBuffer();
            s_tokenizer.Encode(document.Text, ids);
            using var tokenized = new TokenizedDocument(document, ids);
            builder.Add(tokenized, batches);
        }
        builder.Complete(batches);
        return batches;
    }

    private static long Watermark(TensorBatch batch) => long.Parse(batch.Metadata[BatchMetadataKeys.ResumeOrdinal], CultureInfo.InvariantCulture);

    private static bool IsComparison(TensorBatch batch) => batch.Metadata.ContainsKey(BatchMetadataKeys.Comparison);

    [Theory]
    [InlineData("sorted")]
    [InlineData("fixed")]
    public void Batches_EveryDocumentOnce_AndTheLedgerRestoresInputOrder(string layout)
    {
        Document[] documents = Corpus(150);
        List<TensorBatch> batches = Build(documents, Context($"batching={layout}", "sort_window=32", "compare_fixed=40"));
        try
        {
            var schema = new ResultSchema { KeepColumns = [], LabelNames = ["a", "b"], MultiLabel = false, ModelHash = "m", TokenizerHash = "t" };
            var records = new DocumentRecordLog(schema.KeepColumns);
            var ledger = new ResultLedger(records, schema, "corpus", SequenceLength - 2, 0.5);
            foreach (Document document in documents)
            {
                records.Append(document);
            }
            var rows = new List<ResultRow>();
            long watermark = -1;
            foreach (TensorBatch batch in batches.Where(b => !IsComparison(b)))
            {
                Assert.True(Watermark(batch) >= watermark, $"batch {batch.Sequence}: the watermark went back");
                watermark = Watermark(batch);
                ledger.Accept(PredictionBatch.For(batch, 2), rows);
            }
            ledger.CheckDrained();

            Assert.Equal(documents.Select(d => d.Id), rows.Select(r => r.Id));
            Assert.Equal(documents.Where(d => d.Text.Length == 0).Select(d => d.Id), rows.Where(r => r.Status == RowStatus.Empty).Select(r => r.Id));
            Assert.All(rows.Where(r => r.Status != RowStatus.Empty), r => Assert.Equal(r.Tokens > SequenceLength - 2 ? RowStatus.Truncated : RowStatus.Ok, r.Status));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Sorted_LongestFirst_WithinTheBudget_TrimmedToTheLongestRow()
    {
        List<TensorBatch> batches = Build(Corpus(150), Context("sort_window=64", "max_tokens_per_batch=200", "compare_fixed=0"));
        try
        {
            foreach (TensorBatch batch in batches.Where(b => b.RowCount > 0))
            {
                TensorBuffer ids = batch[TaskTensors.InputIds];
                long[] mask = batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray();
                int rows = ids.Shape[0];
                int length = ids.Shape[1];
                int[] lengths = Enumerable.Range(0, rows).Select(r => (int)mask.Skip(r * length).Take(length).Sum()).ToArray();
                Assert.Equal(batch.RowCount, rows);
                Assert.Equal(lengths[0], length);
                Assert.Equal(lengths.OrderDescending(), lengths);
                Assert.True(rows == 1 || rows * length <= 200, $"batch {batch.Sequence}: {rows} x {length} over the budget");
                Assert.Equal("sorted", batch.Metadata[BatchMetadataKeys.Layout]);
            }
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Sorted_PadsFarLessThanFixedBatches()
    {
        static double Padding(List<TensorBatch> batches) =>
            1 - (batches.Sum(b => b.TokenCount) / (double)batches.Sum(b => b.TryGet(TaskTensors.InputIds, out TensorBuffer t) ? t.ElementCount : 0));
        List<TensorBatch> sorted = Build(Corpus(300), Context("batching=sorted", "compare_fixed=0"));
        List<TensorBatch> fixedBatches = Build(Corpus(300), Context("batching=fixed", "compare_fixed=0"));
        try
        {
            Assert.True(Padding(sorted) < Padding(fixedBatches) / 3, $"sorted {Padding(sorted):P1} vs fixed {Padding(fixedBatches):P1}");
        }
        finally
        {
            sorted.Concat(fixedBatches).ToList().ForEach(b => b.Dispose());
        }
    }

    [Theory]
    [InlineData("sorted")]
    [InlineData("fixed")]
    public void Resume_FromAnyWindowStart_FormsTheSameBatches(string layout)
    {
        Document[] documents = Corpus(150);
        BatchingContext context = Context($"batching={layout}", "sort_window=25", "compare_fixed=0");
        List<TensorBatch> full = Build(documents, context);
        try
        {
            // A commit lands on a watermark; a resumed run starts reading there.
            foreach (long start in full.Select(Watermark).Distinct().Where(w => w > 0 && w < documents.Length))
            {
                List<TensorBatch> resumed = Build(documents.Skip((int)start), context);
                try
                {
                    // The batches of the windows from there on: those whose rows (or, for a window of no rows, whose watermark) lie after it.
                    IEnumerable<TensorBatch> after = full.Where(b => b.RowCount > 0 ? FirstRowOrdinal(b, documents) >= start : Watermark(b) > start);
                    Assert.Equal(Fingerprint(after), Fingerprint(resumed));
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

    /// <summary>The stream ordinals of the batch's rows' documents.</summary>
    private static IEnumerable<long> Ordinals(TensorBatch batch, Document[] documents)
    {
        if (batch.RowCount == 0)
        {
            return [];
        }
        long[] parts = batch[TaskTensors.SourcePart].AsSpan<long>()[..batch.RowCount].ToArray();
        long[] ordinals = batch[TaskTensors.SourceOrdinal].AsSpan<long>()[..batch.RowCount].ToArray();
        return parts.Zip(ordinals).Select(p => documents.First(d => d.SourcePart == p.First && d.SourceOrdinal == p.Second).Ordinal);
    }

    /// <summary>The stream ordinal of the batch's first row's document (-1 for none).</summary>
    private static long FirstRowOrdinal(TensorBatch batch, Document[] documents)
    {
        if (batch.RowCount == 0)
        {
            return -1;
        }
        long part = batch[TaskTensors.SourcePart].AsSpan<long>()[0];
        long ordinal = batch[TaskTensors.SourceOrdinal].AsSpan<long>()[0];
        return documents.First(d => d.SourcePart == part && d.SourceOrdinal == ordinal).Ordinal;
    }

    [Fact]
    public void Windows_NeverSpanTwoPartsOfTheSource()
    {
        Document[] documents = Corpus(150, perPart: 45);
        List<TensorBatch> batches = Build(documents, Context("sort_window=32", "compare_fixed=0"));
        try
        {
            Assert.All(batches.Where(b => b.RowCount > 0), b =>
            {
                long[] parts = b[TaskTensors.SourcePart].AsSpan<long>().ToArray();
                long[] ordinals = b[TaskTensors.SourceOrdinal].AsSpan<long>().ToArray();
                Assert.Single(parts.Zip(ordinals).Select(p => (p.First, p.Second / 32)).Distinct());
            });
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Comparison_OtherLayoutOfTheSameDocuments_ForTheFirstDocumentsOnly()
    {
        Document[] documents = Corpus(150);
        List<TensorBatch> batches = Build(documents, Context("batching=sorted", "sort_window=32", "compare_fixed=60"));
        try
        {
            List<TensorBatch> compared = batches.Where(IsComparison).ToList();
            Assert.All(compared, b => Assert.Equal("fixed", b.Metadata[BatchMetadataKeys.Layout]));
            Assert.All(compared, b => Assert.Equal([8, SequenceLength], b[TaskTensors.InputIds].Shape));
            // The first 60 documents with tokens, in input order, whichever windows they fall in.
            long[] comparedOrdinals = compared.SelectMany(b => Ordinals(b, documents)).ToArray();
            long[] first = documents.Where(d => d.Text.Length > 0).Take(60).Select(d => d.Ordinal).ToArray();
            Assert.Equal(first, comparedOrdinals);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Settings_BadBatching_IsRejectedNamingIt()
    {
        FormatException error = Assert.Throws<FormatException>(() => new ClassifierInferenceTask().CreateBatchBuilder(Context("batching=random")));
        Assert.Contains("batching=random", error.Message, StringComparison.Ordinal);
    }

    private static string Fingerprint(IEnumerable<TensorBatch> batches) =>
        string.Join("|", batches.Select(b => string.Join(",", b.Tensors.Select(t => $"{t.Name}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(t.Bytes))}")) + b.Metadata.GetValueOrDefault(BatchMetadataKeys.SkippedDocuments)));
}
