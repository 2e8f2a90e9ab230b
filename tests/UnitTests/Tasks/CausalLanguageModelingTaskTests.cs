using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Clm;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

public sealed class CausalLanguageModelingTaskTests : TaskContractTests
{
    protected override ITrainingTask CreateTask() => new CausalLanguageModelingTask();

    protected override bool UsesSeed => false;

    [Fact]
    public void PackedRows_DecodeBackToTheDocumentsInOrder_WithShiftedLabelsInsideEachDocument()
    {
        string[] texts = Corpus(50).ToArray();
        List<TensorBatch> batches = BuildBatches(texts);
        try
        {
            var stream = new List<long>();
            foreach (TensorBatch batch in batches)
            {
                long[] ids = batch[TaskTensors.InputIds].AsSpan<long>().ToArray();
                long[] mask = batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray();
                long[] labels = batch[TaskTensors.Labels].AsSpan<long>().ToArray();
                long[] documents = batch[TaskTensors.DocumentIds].AsSpan<long>().ToArray();
                long[] positions = batch[TaskTensors.PositionIds].AsSpan<long>().ToArray();
                for (int i = 0; i < ids.Length; i++)
                {
                    if (mask[i] == 0)
                    {
                        continue;
                    }
                    stream.Add(ids[i]);
                    bool rowEnd = (i + 1) % SequenceLength == 0 || mask[i + 1] == 0;
                    if (!rowEnd && documents[i + 1] == documents[i])
                    {
                        Assert.Equal(ids[i + 1], labels[i]);
                        Assert.Equal(positions[i] + 1, positions[i + 1]);
                    }
                    else if (!rowEnd)
                    {
                        Assert.Equal(TaskTensors.IgnoreIndex, labels[i]);
                        Assert.Equal(0, positions[i + 1]);
                    }
                }
            }
            // The packed stream is every document followed by the end-of-text token, in order, nothing lost.
            var expected = new List<long>();
            foreach (string text in texts)
            {
                var buffer = new TokenBuffer();
                Tokenizer.Encode(text, buffer);
                expected.AddRange(buffer.Span.ToArray().Select(id => (long)id));
                expected.Add(Tokenizer.Special.Sep);
            }
            Assert.Equal(expected, stream);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [SkippableFact]
    public void Packing_OnSharedCorpora_LeavesUnderOnePercentPadding()
    {
        ITextTokenizer bert = TokenizerFactory.CreateWordPiece(SharedData.Require(SharedData.BertVocab));
        foreach (string corpus in new[] { SharedData.CirrusSample, SharedData.PythonDocs })
        {
            double padding = PaddingFraction(new CausalLanguageModelingTask(), bert, SharedData.Require(corpus), 512, TaskSettings.Empty);
            Assert.True(padding < 0.01, $"{corpus}: padding {padding:P2}");
        }
    }

    [SkippableFact]
    public void MlmPacking_WikipediaAt512_CutsPaddingByMoreThanHalf()
    {
        ITextTokenizer bert = TokenizerFactory.CreateWordPiece(SharedData.Require(SharedData.BertVocab));
        string wiki = SharedData.Require(SharedData.CirrusSample);
        double unpacked = PaddingFraction(new MaskedLanguageModelingTask(), bert, wiki, 512, TaskSettings.Empty);
        double packed = PaddingFraction(new MaskedLanguageModelingTask(), bert, wiki, 512, TaskSettings.Parse(["pack=true"]));
        Assert.True(packed <= unpacked / 2, $"padding {unpacked:P1} unpacked, {packed:P1} packed");
    }

    /// <summary>Padding positions over all positions of every batch of a corpus, as the batcher reports it.</summary>
    internal static double PaddingFraction(ITrainingTask task, ITextTokenizer tokenizer, string path, int sequenceLength, TaskSettings settings)
    {
        IBatchBuilder builder = task.CreateBatchBuilder(new BatchingContext(tokenizer, sequenceLength, 8, 1, settings));
        var batches = new List<TensorBatch>();
        long positions = 0, tokens = 0;
        foreach (Document document in Collect.DocumentsAsync(StreamLoader.Provider.SourceFactory.Create(path)).GetAwaiter().GetResult().Select((d, i) => d with { Ordinal = i }))
        {
            var ids = new TokenBuffer();
            tokenizer.Encode(document.Text, ids);
            using var doc = new TokenizedDocument(document, ids);
            builder.Add(doc, batches);
            Count();
        }
        builder.Complete(batches);
        Count();
        return 1 - (tokens / (double)positions);

        void Count()
        {
            foreach (TensorBatch batch in batches)
            {
                positions += batch[TaskTensors.InputIds].ElementCount;
                tokens += batch.TokenCount;
                batch.Dispose();
            }
            batches.Clear();
        }
    }
}

/// <summary>The contract, run on MLM with packing.</summary>
public sealed class PackedMaskedLanguageModelingTaskTests : TaskContractTests
{
    protected override ITrainingTask CreateTask() => new MaskedLanguageModelingTask();

    protected override TaskSettings? Settings => TaskSettings.Parse(["pack=true"]);
}
