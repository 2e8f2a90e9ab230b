using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Inference;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Tasks.Classify;
using StreamLoader.Tasks.Infer;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;

namespace StreamLoader.Device.Tests;

/// <summary>The inference device stage: predictions out of the dispose scope, the same whatever the batching, and a batch halved when memory runs out.</summary>
[Collection(TorchCollection.Name)]
public sealed class PredictorTests
{
    private static readonly ITextTokenizer s_tokenizer = new TestTokenizer(300);

    private static List<TensorBatch> Batches(string layout, int documents = 90)
    {
        var context = new BatchingContext(s_tokenizer, 48, 8, 1, TaskSettings.Parse([$"batching={layout}", "sort_window=40", "compare_fixed=0"]));
        IBatchBuilder builder = new ClassifierInferenceTask().CreateBatchBuilder(context);
        var batches = new List<TensorBatch>();
        for (int i = 0; i < documents; i++)
        {
            var ids = new TokenBuffer();
            string text = TestTokenizer.Words(1 + (i * 29 % 70), i);
            s_tokenizer.Encode(text, ids);
            using var document = new TokenizedDocument(new Document($"d{i}", text) { Ordinal = i, SourceOrdinal = i }, ids);
            builder.Add(document, batches);
        }
        builder.Complete(batches);
        return batches;
    }

    private static IPredictingModel Model(string size) =>
        (IPredictingModel)new ModelContext(VocabularyInfo.From(s_tokenizer), 48, size, TorchRuntime.SelectDevice("cpu"), 3, TaskSettings.Empty) { Labels = new LabelSet(["a", "b", "c"]) }
            .Build(new ClassificationDevice());

    private static Dictionary<long, float[]> Predict(Predictor predictor, List<TensorBatch> batches)
    {
        var byOrdinal = new Dictionary<long, float[]>();
        foreach (TensorBatch batch in batches)
        {
            using (batch)
            {
                PredictionBatch? result = predictor.Predict(batch);
                for (int r = 0; r < (result?.Rows ?? 0); r++)
                {
                    byOrdinal[result!.Positions[r].Ordinal] = result.Row(r).ToArray();
                }
            }
        }
        return byOrdinal;
    }

    [Theory]
    [InlineData("bag")]
    [InlineData("micro")]
    public void Predict_SortedAndFixedBatches_GiveTheSameProbabilities_WithoutLeakingTensors(string size)
    {
        using IPredictingModel model = Model(size);
        model.Module.eval();
        Dictionary<long, float[]> sorted = Predict(new Predictor(model, TorchRuntime.SelectDevice("cpu")), Batches("sorted"));
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Dictionary<long, float[]> fixedRows = Predict(new Predictor(model, TorchRuntime.SelectDevice("cpu")), Batches("fixed"));

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(90, sorted.Count);
        Assert.Equal(sorted.Keys.Order(), fixedRows.Keys.Order());
        foreach ((long ordinal, float[] p) in sorted)
        {
            Assert.Equal(1.0, p.Sum(), 4);
            for (int i = 0; i < p.Length; i++)
            {
                // Padding is masked out: only float rounding of a shorter or longer row can differ.
                Assert.True(Math.Abs(p[i] - fixedRows[ordinal][i]) < 1e-4, $"document {ordinal}: {p[i]} sorted vs {fixedRows[ordinal][i]} fixed");
            }
        }
    }

    [Fact]
    public void Predict_OutOfMemory_HalvesTheBatchAndRetries_WithTheSameResults()
    {
        using IPredictingModel model = Model("bag");
        model.Module.eval();
        Dictionary<long, float[]> expected = Predict(new Predictor(model, TorchRuntime.SelectDevice("cpu")), Batches("sorted"));
        // A device that holds at most 5 rows at a time.
        var tight = new Predictor(model, TorchRuntime.SelectDevice("cpu")) { BeforeForward = rows => { if (rows > 5) { throw new OutOfMemoryException($"CUDA out of memory: {rows} rows"); } } };

        Dictionary<long, float[]> retried = Predict(tight, Batches("sorted"));

        Assert.True(tight.MemoryRetries > 0);
        Assert.InRange(tight.RowLimit!.Value, 1, 5);
        Assert.Equal(expected.Keys.Order(), retried.Keys.Order());
        Assert.All(expected, p => Assert.All(p.Value.Zip(retried[p.Key]), v => Assert.True(Math.Abs(v.First - v.Second) < 1e-6, $"document {p.Key}: {v.First} vs {v.Second}")));
    }
}
