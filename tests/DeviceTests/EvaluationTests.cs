using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Device.Evaluation;

namespace StreamLoader.Device.Tests;

[Collection(TorchCollection.Name)]
public sealed class EvaluationTests
{
    /// <summary>A batch whose rows hold token 10 + label (and noise tokens), labelled multi-hot or by index.</summary>
    private static TensorBatch Batch(int rows, int labels, bool multi, int seed)
    {
        var random = new Random(seed);
        var batch = new TensorBatch("t", 0) { RowCount = rows };
        Span<long> ids = batch.Add(TaskTensors.InputIds, TensorDType.I64, [rows, 8]).AsSpan<long>();
        Span<long> mask = batch.Add(TaskTensors.AttentionMask, TensorDType.I64, [rows, 8]).AsSpan<long>();
        TensorBuffer target = multi ? batch.Add(TaskTensors.Labels, TensorDType.F32, [rows, labels]) : batch.Add(TaskTensors.Labels, TensorDType.I64, [rows]);
        for (int r = 0; r < rows; r++)
        {
            int a = random.Next(labels);
            int b = random.Next(labels);
            for (int c = 0; c < 8; c++)
            {
                ids[(r * 8) + c] = c switch { 0 => 10 + a, 1 when multi => 10 + b, _ => 100 + random.Next(50) };
                mask[(r * 8) + c] = 1;
            }
            if (multi)
            {
                target.AsSpan<float>()[(r * labels) + a] = 1;
                target.AsSpan<float>()[(r * labels) + b] = 1;
            }
            else
            {
                target.AsSpan<long>()[r] = a;
            }
        }
        return batch;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Baselines_OnALearnableProblem_BagOfWordsBeatsMajority(bool multi)
    {
        using var evaluator = new HeldOutEvaluator(6, multi);
        for (int i = 0; i < 20; i++)
        {
            using TensorBatch train = Batch(64, 6, multi, i);
            evaluator.Baselines.Observe(train);
        }
        evaluator.Keep(Batch(200, 6, multi, 99));

        IReadOnlyDictionary<string, ClassificationScores> scores = evaluator.EvaluateBaselines();

        Assert.Equal(200, scores["majority_class"].Rows);
        Assert.True(scores["bag_of_words_logistic_regression"].MicroF1 > 0.95, $"bag of words micro-F1 {scores["bag_of_words_logistic_regression"].MicroF1:0.000}");
        Assert.True(scores["majority_class"].MicroF1 < 0.5);
    }

    [Fact]
    public void Metrics_MicroAndMacroF1_AsScikitLearnComputesThem()
    {
        // y_true = [0, 1, 2, 2], y_pred = [0, 2, 2, 2]: sklearn f1 micro 0.75, macro (1 + 0 + 0.8) / 3 = 0.6.
        var metrics = new ClassificationMetrics(3);
        int[] truth = [0, 1, 2, 2];
        int[] predicted = [0, 2, 2, 2];
        for (int i = 0; i < 4; i++)
        {
            metrics.Add(OneHot(truth[i]), OneHot(predicted[i]));
        }
        ClassificationScores scores = metrics.Scores();
        Assert.Equal(0.75, scores.Accuracy, 6);
        Assert.Equal(0.75, scores.MicroF1, 6);
        Assert.Equal(0.6, scores.MacroF1, 6);

        static bool[] OneHot(int k) => Enumerable.Range(0, 3).Select(i => i == k).ToArray();
    }
}
