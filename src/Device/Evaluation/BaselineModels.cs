using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamLoader.Device.Evaluation;

/// <summary>
/// The baselines a classifier is judged against, fitted on the training rows of the same run: the majority class
/// (multi-label: the most frequent label alone), and a logistic regression over bag-of-words TF-IDF features of the
/// same token ids (softmax for one label, a sigmoid per label for several).
/// </summary>
public sealed class BaselineModels : IDisposable
{
    /// <summary>Training rows kept for the bag-of-words fit at most; later rows still count for the majority class.</summary>
    public const int MaxRows = 500_000;

    private readonly int _labels;
    private readonly bool _multiLabel;
    private readonly long[] _labelCounts;
    private readonly List<int[]> _rowIds = [];
    private readonly List<bool[]> _rowLabels = [];
    private readonly Dictionary<int, int> _documentFrequency = [];
    private readonly HashSet<ulong> _seen = [];
    private readonly float _logitThreshold;
    private int _vocabulary;

    /// <param name="labels">The number of labels.</param>
    /// <param name="multiLabel">True for a sigmoid per label, false for a softmax.</param>
    /// <param name="logitThreshold">Multi-label: a label is predicted when its score exceeds this (0: probability 0.5).</param>
    public BaselineModels(int labels, bool multiLabel, float logitThreshold = 0)
    {
        _labels = labels;
        _multiLabel = multiLabel;
        _logitThreshold = logitThreshold;
        _labelCounts = new long[labels];
    }

    /// <summary>Training rows seen.</summary>
    public long TrainingRows { get; private set; }

    /// <summary>Adds the labelled rows of a training batch.</summary>
    public void Observe(TensorBatch batch)
    {
        var truth = new bool[_labels];
        TensorBuffer ids = batch[TaskTensors.InputIds];
        int columns = ids.Shape[1];
        for (int row = 0; row < batch.RowCount; row++)
        {
            if (!RowLabels.TryRead(batch, row, _labels, _multiLabel, truth))
            {
                continue;
            }
            TrainingRows++;
            for (int k = 0; k < _labels; k++)
            {
                _labelCounts[k] += truth[k] ? 1 : 0;
            }
            if (_rowIds.Count >= MaxRows)
            {
                continue;
            }
            int[] rowIds = Tokens(batch, row, columns);
            // A later epoch brings the same rows again: the fit sees each training row once.
            if (!_seen.Add(RowHash(rowIds, truth)))
            {
                continue;
            }
            foreach (int id in rowIds.Distinct())
            {
                _documentFrequency[id] = _documentFrequency.GetValueOrDefault(id) + 1;
                _vocabulary = Math.Max(_vocabulary, id + 1);
            }
            _rowIds.Add(rowIds);
            _rowLabels.Add((bool[])truth.Clone());
        }
    }

    /// <summary>Fits the baselines and returns each as a predictor of a batch row's labels (false: cannot predict it).</summary>
    public IEnumerable<(string Name, Func<TensorBatch, int, bool[], bool> Predict)> Fit()
    {
        int majority = Array.IndexOf(_labelCounts, _labelCounts.Max());
        yield return ("majority_class", (_, _, predicted) =>
        {
            Array.Clear(predicted);
            predicted[majority] = true;
            return true;
        });
        if (_rowIds.Count == 0)
        {
            yield break;
        }
        float[] weights = FitLogisticRegression(out float[] bias);
        yield return ("bag_of_words_logistic_regression", (batch, row, predicted) =>
        {
            int[] ids = Tokens(batch, row, batch[TaskTensors.InputIds].Shape[1]);
            var scores = (float[])bias.Clone();
            foreach ((int id, float value) in Features(ids))
            {
                for (int k = 0; k < _labels; k++)
                {
                    scores[k] += weights[(id * _labels) + k] * value;
                }
            }
            RowLabels.Decide(scores, _multiLabel, _logitThreshold, predicted);
            return true;
        });
    }

    /// <summary>
    /// Full-batch Adam on the TF-IDF rows with scikit-learn's default L2 penalty (C = 1), until the loss stops falling
    /// (a relative change under 1e-5) or 2,000 iterations. Returns the weights <c>[vocab, labels]</c> flattened, and the bias.
    /// </summary>
    private float[] FitLogisticRegression(out float[] bias)
    {
        using DisposeScope scope = NewDisposeScope();
        var flatIds = new List<long>();
        var flatValues = new List<float>();
        var offsets = new List<long>();
        var targets = new float[_rowIds.Count * _labels];
        for (int r = 0; r < _rowIds.Count; r++)
        {
            offsets.Add(flatIds.Count);
            foreach ((int id, float value) in Features(_rowIds[r]))
            {
                flatIds.Add(id);
                flatValues.Add(value);
            }
            for (int k = 0; k < _labels; k++)
            {
                targets[(r * _labels) + k] = _rowLabels[r][k] ? 1 : 0;
            }
        }
        random.manual_seed(0);
        using EmbeddingBag linear = nn.EmbeddingBag(_vocabulary, _labels, mode: EmbeddingBagMode.Sum);
        using (no_grad())
        {
            linear.weight!.zero_();
        }
        var b = nn.Parameter(zeros(_labels));
        Tensor input = tensor(flatIds.ToArray());
        Tensor offsetTensor = tensor(offsets.ToArray());
        Tensor values = tensor(flatValues.ToArray());
        Tensor target = tensor(targets).reshape(_rowIds.Count, _labels);
        Tensor classes = target.argmax(1);
        var optimizer = optim.AdamW([.. linear.parameters(), b], lr: 0.1, weight_decay: 0.0);
        // scikit-learn's LogisticRegression(C=1): ½‖w‖² beside the summed loss, so ‖w‖² / 2n beside the mean one (and
        // for one-vs-rest over L labels, whose losses are averaged over n·L, ‖W‖² / 2nL).
        double penalty = 1.0 / (2.0 * _rowIds.Count * (_multiLabel ? _labels : 1));
        double previous = double.MaxValue;
        for (int step = 0; step < 2000; step++)
        {
            using DisposeScope stepScope = NewDisposeScope();
            Tensor logits = linear.call(input, offsetTensor, values) + b;
            Tensor loss = _multiLabel ? nn.functional.binary_cross_entropy_with_logits(logits, target) : nn.functional.cross_entropy(logits, classes);
            loss = loss + (penalty * linear.weight!.pow(2).sum());
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            double value = loss.item<float>();
            if (Math.Abs(previous - value) < 1e-5 * Math.Abs(value))
            {
                break;
            }
            previous = value;
        }
        bias = b.detach().data<float>().ToArray();
        return linear.weight!.detach().contiguous().data<float>().ToArray();
    }

    /// <summary>L2-normalised TF-IDF of a row's ids (smoothed idf, as scikit-learn's TfidfVectorizer).</summary>
    private IEnumerable<(int Id, float Value)> Features(int[] ids)
    {
        var counts = new Dictionary<int, int>();
        foreach (int id in ids)
        {
            if (id < _vocabulary)
            {
                counts[id] = counts.GetValueOrDefault(id) + 1;
            }
        }
        double n = _rowIds.Count;
        var features = counts.Select(p => (p.Key, Value: p.Value * (Math.Log((1 + n) / (1 + _documentFrequency.GetValueOrDefault(p.Key))) + 1))).ToArray();
        double norm = Math.Sqrt(features.Sum(f => f.Value * f.Value));
        return features.Select(f => (f.Key, (float)(norm > 0 ? f.Value / norm : 0)));
    }

    /// <summary>A row's identity for de-duplication: its ids as they lie in memory, then each label it has (no text built per row).</summary>
    private static ulong RowHash(int[] ids, bool[] labels)
    {
        ulong hash = Core.Randomness.Seeds.Hash(0, System.Runtime.InteropServices.MemoryMarshal.Cast<int, char>(ids));
        for (int k = 0; k < labels.Length; k++)
        {
            if (labels[k])
            {
                hash = unchecked((hash ^ (ulong)(k + 1)) * 1099511628211UL);
            }
        }
        return hash;
    }

    private static int[] Tokens(TensorBatch batch, int row, int columns)
    {
        ReadOnlySpan<long> ids = batch[TaskTensors.InputIds].AsSpan<long>().Slice(row * columns, columns);
        ReadOnlySpan<long> mask = batch[TaskTensors.AttentionMask].AsSpan<long>().Slice(row * columns, columns);
        var result = new List<int>(columns);
        for (int c = 0; c < columns; c++)
        {
            if (mask[c] != 0)
            {
                result.Add((int)ids[c]);
            }
        }
        return result.ToArray();
    }

    public void Dispose()
    {
        _rowIds.Clear();
        _rowLabels.Clear();
    }
}
