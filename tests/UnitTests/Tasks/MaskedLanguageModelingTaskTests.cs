using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

public sealed class MaskedLanguageModelingTaskTests : TaskContractTests
{
    protected override ITrainingTask CreateTask() => new MaskedLanguageModelingTask();

    private sealed record Totals(long Candidates, long Chosen, long Masked, long Randomized, long Unchanged, long SpecialOrPadChosen, long LabelMismatches);

    /// <summary>Re-derives the masking from the batches: original ids are known because the test tokenizes the same text.</summary>
    private static Totals Measure(IReadOnlyList<TensorBatch> batches, ITextTokenizer tokenizer, IReadOnlyList<int[]> rows)
    {
        long candidates = 0, chosen = 0, masked = 0, randomized = 0, unchanged = 0, specialChosen = 0, mismatches = 0;
        int row = 0;
        foreach (TensorBatch batch in batches)
        {
            Span<long> ids = batch["input_ids"].AsSpan<long>();
            Span<long> mask = batch["attention_mask"].AsSpan<long>();
            Span<long> labels = batch["labels"].AsSpan<long>();
            int length = batch["input_ids"].Shape[1];
            for (int r = 0; r < batch.RowCount; r++, row++)
            {
                int[] original = rows[row];
                for (int c = 0; c < length; c++)
                {
                    int at = (r * length) + c;
                    int expected = c < original.Length ? original[c] : tokenizer.Special.Pad;
                    bool special = mask[at] == 0 || tokenizer.Special.IsSpecial(expected);
                    if (!special)
                    {
                        candidates++;
                    }
                    if (labels[at] == TaskTensors.IgnoreIndex)
                    {
                        if (ids[at] != expected)
                        {
                            mismatches++;
                        }
                        continue;
                    }
                    chosen++;
                    if (special)
                    {
                        specialChosen++;
                    }
                    if (labels[at] != expected)
                    {
                        mismatches++;
                    }
                    if (ids[at] == tokenizer.Special.Mask)
                    {
                        masked++;
                    }
                    else if (ids[at] == expected)
                    {
                        unchanged++;
                    }
                    else
                    {
                        randomized++;
                        Assert.False(tokenizer.Special.IsSpecial((int)ids[at]));
                    }
                }
            }
            // Padding rows of a final partial batch are untouched.
            for (int r = batch.RowCount; r < batch["input_ids"].Shape[0]; r++)
            {
                for (int c = 0; c < length; c++)
                {
                    Assert.Equal(tokenizer.Special.Pad, ids[(r * length) + c]);
                    Assert.Equal(TaskTensors.IgnoreIndex, labels[(r * length) + c]);
                }
            }
        }
        return new Totals(candidates, chosen, masked, randomized, unchanged, specialChosen, mismatches);
    }

    /// <summary>The rows the builder should produce: [CLS] window [SEP] per window of seq_len − 2 tokens.</summary>
    private static List<int[]> ExpectedRows(IEnumerable<int[]> documents, ITextTokenizer tokenizer, int sequenceLength)
    {
        var rows = new List<int[]>();
        foreach (int[] doc in documents)
        {
            for (int offset = 0; offset < doc.Length; offset += sequenceLength - 2)
            {
                int[] window = doc[offset..Math.Min(doc.Length, offset + sequenceLength - 2)];
                rows.Add([tokenizer.Special.Cls, .. window, tokenizer.Special.Sep]);
            }
        }
        return rows;
    }

    private static (List<TensorBatch> Batches, List<int[]> Rows) Run(ITextTokenizer tokenizer, IEnumerable<string> texts, int seqLen, int batchSize, int seed, double probability = 0.15)
    {
        IBatchBuilder builder = new MaskedLanguageModelingTask().CreateBatchBuilder(
            new BatchingContext(tokenizer, seqLen, batchSize, seed, TaskSettings.Parse([$"mask_probability={probability}"])));
        var batches = new List<TensorBatch>();
        var docs = new List<int[]>();
        int i = 0;
        foreach (string text in texts)
        {
            var ids = new TokenBuffer();
            tokenizer.Encode(text, ids);
            docs.Add(ids.Span.ToArray());
            using var doc = new TokenizedDocument(new StreamLoader.Core.Documents.Document(i.ToString(), text) { Ordinal = i++ }, ids);
            builder.Add(doc, batches);
        }
        builder.Complete(batches);
        return (batches, ExpectedRows(docs, tokenizer, seqLen));
    }

    [Fact]
    public void Masking_OverManyBatches_MeetsBertRatesAndNeverTouchesSpecialsOrPadding()
    {
        var tokenizer = new TestTokenizer(5000);
        IEnumerable<string> texts = Enumerable.Range(0, 3000).Select(i => TestTokenizer.Words(5 + (i * 31 % 300), i));

        (List<TensorBatch> batches, List<int[]> rows) = Run(tokenizer, texts, seqLen: 128, batchSize: 8, seed: 42);
        try
        {
            Totals t = Measure(batches, tokenizer, rows);

            Assert.True(t.Candidates > 200_000, $"only {t.Candidates} candidate positions");
            Assert.InRange(t.Chosen / (double)t.Candidates, 0.14, 0.16);
            Assert.InRange(t.Masked / (double)t.Chosen, 0.78, 0.82);
            Assert.InRange(t.Randomized / (double)t.Chosen, 0.08, 0.12);
            Assert.InRange(t.Unchanged / (double)t.Chosen, 0.08, 0.12);
            Assert.Equal(0, t.SpecialOrPadChosen);
            Assert.Equal(0, t.LabelMismatches);
            Assert.Equal(rows.Count, batches.Sum(b => b.RowCount));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [SkippableFact]
    public async Task Masking_RealWikipediaWithBertVocab_MeetsBertRates()
    {
        ITextTokenizer bert = TokenizerFactory.CreateWordPiece(SharedData.Require(SharedData.BertVocab));
        List<StreamLoader.Core.Documents.Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(SharedData.Require(SharedData.CirrusSample)));

        (List<TensorBatch> batches, List<int[]> rows) = Run(bert, docs.Select(d => d.Text), seqLen: 128, batchSize: 16, seed: 1);
        try
        {
            Totals t = Measure(batches, bert, rows);

            Assert.InRange(t.Chosen / (double)t.Candidates, 0.14, 0.16);
            Assert.InRange(t.Masked / (double)t.Chosen, 0.78, 0.82);
            Assert.InRange(t.Randomized / (double)t.Chosen, 0.08, 0.12);
            Assert.InRange(t.Unchanged / (double)t.Chosen, 0.08, 0.12);
            Assert.Equal(0, t.SpecialOrPadChosen);
            Assert.Equal(0, t.LabelMismatches);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(30)]
    [InlineData(31)]
    [InlineData(1000)]
    public void Windowing_LongDocument_KeepsEveryTokenInOrder(int words)
    {
        var tokenizer = new TestTokenizer(5000);
        string text = TestTokenizer.Words(words);
        var expected = new TokenBuffer();
        tokenizer.Encode(text, expected);

        // Probability 0 leaves inputs intact, so rows can be compared token for token.
        (List<TensorBatch> batches, _) = Run(tokenizer, [text], seqLen: 32, batchSize: 4, seed: 3, probability: 0.0);
        try
        {
            var recovered = new List<int>();
            foreach (TensorBatch batch in batches)
            {
                Span<long> ids = batch["input_ids"].AsSpan<long>();
                for (int r = 0; r < batch.RowCount; r++)
                {
                    Span<long> row = ids.Slice(r * 32, 32);
                    Assert.Equal(tokenizer.Special.Cls, row[0]);
                    int end = row.IndexOf((long)tokenizer.Special.Sep);
                    Assert.True(end > 0);
                    foreach (long id in row[1..end])
                    {
                        recovered.Add((int)id);
                    }
                }
            }
            Assert.Equal(expected.Span.ToArray(), recovered);
            Assert.Equal((words + 29) / 30, batches.Sum(b => b.RowCount));
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
            expected.Dispose();
        }
    }

    [Fact]
    public void Masking_ZeroProbability_ProducesNoTargetsAndFullProbabilityTargetsEveryToken()
    {
        var tokenizer = new TestTokenizer(5000);
        (List<TensorBatch> none, List<int[]> rows) = Run(tokenizer, Corpus(), 32, 4, 1, probability: 0.0);
        (List<TensorBatch> all, _) = Run(tokenizer, Corpus(), 32, 4, 1, probability: 1.0);
        try
        {
            Assert.Equal(0, Measure(none, tokenizer, rows).Chosen);
            Totals t = Measure(all, tokenizer, rows);
            Assert.Equal(t.Candidates, t.Chosen);
        }
        finally
        {
            none.ForEach(b => b.Dispose());
            all.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Settings_MaskProbabilityOutOfRange_IsRejected()
    {
        var context = new BatchingContext(new TestTokenizer(), 32, 4, 1, TaskSettings.Parse(["mask_probability=1.5"]));
        FormatException error = Assert.Throws<FormatException>(() => new MaskedLanguageModelingTask().CreateBatchBuilder(context));
        Assert.Contains("mask_probability=1.5", error.Message, StringComparison.Ordinal);
    }
}
