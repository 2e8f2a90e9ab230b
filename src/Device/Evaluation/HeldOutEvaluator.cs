using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Evaluation;

/// <summary>One evaluation of the model on the held-out batches received so far.</summary>
/// <param name="Step">The optimizer step it followed.</param>
/// <param name="Scores">The model's scores.</param>
public sealed record EvaluationRecord(long Step, ClassificationScores Scores);

/// <summary>
/// Keeps the held-out batches (<c>split=eval</c>) a classifier's stream carries, evaluates the model on them every K
/// steps and at the end, and fits the baselines the model is judged against on the training rows of the same run.
/// </summary>
public sealed class HeldOutEvaluator : IDisposable
{
    private readonly List<TensorBatch> _batches = [];
    private readonly int _labels;
    private readonly bool _multiLabel;
    private readonly float _logitThreshold;

    /// <param name="labels">The number of labels.</param>
    /// <param name="multiLabel">True for a sigmoid per label, false for a softmax.</param>
    /// <param name="threshold">Multi-label: the probability above which a label is predicted, for the model and the baselines alike (null: the task option's default).</param>
    public HeldOutEvaluator(int labels, bool multiLabel, double? threshold = null)
    {
        double p = threshold ?? Core.Tasks.MultiLabelOptions.Threshold.Default;
        if (p is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold is a probability between 0 and 1.");
        }
        _labels = labels;
        _multiLabel = multiLabel;
        _logitThreshold = (float)Math.Log(p / (1 - p));
        Baselines = new BaselineModels(labels, multiLabel, _logitThreshold);
    }

    /// <summary>Held-out rows received.</summary>
    public long Rows { get; private set; }

    /// <summary>Every evaluation, in order.</summary>
    public List<EvaluationRecord> Records { get; } = [];

    /// <summary>The majority-class and bag-of-words baselines, fitted on the training rows.</summary>
    public BaselineModels Baselines { get; }

    /// <summary>True when <paramref name="batch"/> holds held-out rows.</summary>
    public static bool IsHeldOut(TensorBatch batch) =>
        batch.Metadata.TryGetValue(BatchMetadataKeys.Split, out string? split) && split == BatchMetadataKeys.EvalSplit;

    /// <summary>Held-out rows kept at most (about 100 MB at seq 512); later held-out rows are not trained on, not kept, and counted.</summary>
    public const int MaxRows = 25_000;

    /// <summary>Held-out rows received after <see cref="MaxRows"/> were kept: never trained on, not evaluated either.</summary>
    public long RowsNotKept { get; private set; }

    /// <summary>Takes ownership of a held-out batch (and disposes it, counted, once <see cref="MaxRows"/> rows are kept).</summary>
    public void Keep(TensorBatch batch)
    {
        if (Rows >= MaxRows)
        {
            RowsNotKept += batch.RowCount;
            batch.Dispose();
            return;
        }
        _batches.Add(batch);
        Rows += batch.RowCount;
    }

    /// <summary>Evaluates <paramref name="model"/> on every batch kept so far; null when none was.</summary>
    public EvaluationRecord? Evaluate(IClassifierModel model, torch.Device device, long step)
    {
        if (_batches.Count == 0)
        {
            return null;
        }
        ClassificationScores scores;
        model.Module.eval();
        try
        {
            using var grad = no_grad();
            scores = Score(batch =>
            {
                using DisposeScope scope = NewDisposeScope();
                float[] values = model.Scores(DeviceBatch.From(batch, device)).to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
                return (row, predicted) =>
                {
                    RowLabels.Decide(values.AsSpan(row * _labels, _labels), _multiLabel, _logitThreshold, predicted);
                    return true;
                };
            });
        }
        finally
        {
            model.Module.train();
        }
        var record = new EvaluationRecord(step, scores);
        Records.Add(record);
        return record;
    }

    /// <summary>Scores of the baselines on the held-out rows, by name; empty when no row was held out.</summary>
    public IReadOnlyDictionary<string, ClassificationScores> EvaluateBaselines()
    {
        var results = new SortedDictionary<string, ClassificationScores>(StringComparer.Ordinal);
        if (_batches.Count == 0 || Baselines.TrainingRows == 0)
        {
            return results;
        }
        foreach ((string name, Func<TensorBatch, int, bool[], bool> predict) in Baselines.Fit())
        {
            results[name] = Score(batch => (row, predicted) => predict(batch, row, predicted));
        }
        return results;
    }

    /// <summary>
    /// Scores a predictor over every kept row: <paramref name="predictorFor"/> is asked once per batch for a function
    /// that fills a row's predicted labels (false: no prediction for that row).
    /// </summary>
    private ClassificationScores Score(Func<TensorBatch, Func<int, bool[], bool>> predictorFor)
    {
        var metrics = new ClassificationMetrics(_labels);
        var truth = new bool[_labels];
        var predicted = new bool[_labels];
        foreach (TensorBatch batch in _batches)
        {
            Func<int, bool[], bool> predict = predictorFor(batch);
            for (int row = 0; row < batch.RowCount; row++)
            {
                if (RowLabels.TryRead(batch, row, _labels, _multiLabel, truth) && predict(row, predicted))
                {
                    metrics.Add(truth, predicted);
                }
            }
        }
        return metrics.Scores();
    }

    public void Dispose()
    {
        foreach (TensorBatch batch in _batches)
        {
            batch.Dispose();
        }
        _batches.Clear();
        Baselines.Dispose();
    }
}

/// <summary>Reads a classifier batch's labels: int64 <c>[batch]</c> (single) or float <c>[batch, labels]</c> (multi), -100 on rows without one.</summary>
public static class RowLabels
{
    /// <summary>
    /// The labels scores predict: those whose score passes <paramref name="logitThreshold"/> (multi-label: sigmoid above
    /// the threshold), or the best one (single-label).
    /// </summary>
    public static void Decide(ReadOnlySpan<float> scores, bool multiLabel, float logitThreshold, Span<bool> predicted)
    {
        predicted.Clear();
        if (multiLabel)
        {
            for (int k = 0; k < scores.Length; k++)
            {
                predicted[k] = scores[k] > logitThreshold;
            }
            return;
        }
        int best = 0;
        for (int k = 1; k < scores.Length; k++)
        {
            best = scores[k] > scores[best] ? k : best;
        }
        predicted[best] = true;
    }

    /// <summary>Writes row <paramref name="row"/>'s labels into <paramref name="truth"/>; false when the row has none.</summary>
    public static bool TryRead(TensorBatch batch, int row, int labels, bool multiLabel, Span<bool> truth)
    {
        TensorBuffer buffer = batch[TaskTensors.Labels];
        truth.Clear();
        if (multiLabel)
        {
            ReadOnlySpan<float> values = buffer.AsSpan<float>().Slice(row * labels, labels);
            if (values[0] == TaskTensors.IgnoreIndex)
            {
                return false;
            }
            for (int k = 0; k < labels; k++)
            {
                truth[k] = values[k] > 0.5f;
            }
            return true;
        }
        long label = buffer.AsSpan<long>()[row];
        if (label < 0 || label >= labels)
        {
            return false;
        }
        truth[(int)label] = true;
        return true;
    }
}
