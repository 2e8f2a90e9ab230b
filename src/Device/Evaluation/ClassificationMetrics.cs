namespace StreamLoader.Device.Evaluation;

/// <summary>Accuracy, micro-F1 and macro-F1 of one evaluation, with the rows it covered.</summary>
/// <param name="Rows">Rows (documents) evaluated.</param>
/// <param name="Accuracy">Single-label: the share predicted right. Multi-label: the share whose whole label set was predicted exactly.</param>
/// <param name="MicroF1">F1 over every (row, label) decision pooled.</param>
/// <param name="MacroF1">The mean of each label's F1, over the labels that occur in the truth or the predictions (as scikit-learn averages).</param>
public sealed record ClassificationScores(long Rows, double Accuracy, double MicroF1, double MacroF1);

/// <summary>Counts true and false positives per label over many rows, and turns them into <see cref="ClassificationScores"/>.</summary>
public sealed class ClassificationMetrics
{
    private readonly long[] _truePositives;
    private readonly long[] _falsePositives;
    private readonly long[] _falseNegatives;
    private long _rows;
    private long _exact;

    public ClassificationMetrics(int labels)
    {
        _truePositives = new long[labels];
        _falsePositives = new long[labels];
        _falseNegatives = new long[labels];
    }

    /// <summary>Adds one row: its true labels and the predicted ones, as membership flags per label.</summary>
    public void Add(ReadOnlySpan<bool> truth, ReadOnlySpan<bool> predicted)
    {
        bool exact = true;
        for (int k = 0; k < _truePositives.Length; k++)
        {
            if (truth[k] && predicted[k])
            {
                _truePositives[k]++;
            }
            else if (predicted[k])
            {
                _falsePositives[k]++;
                exact = false;
            }
            else if (truth[k])
            {
                _falseNegatives[k]++;
                exact = false;
            }
        }
        _rows++;
        _exact += exact ? 1 : 0;
    }

    /// <summary>The scores of the rows added so far.</summary>
    public ClassificationScores Scores()
    {
        long tp = 0, fp = 0, fn = 0;
        double macro = 0;
        int counted = 0;
        for (int k = 0; k < _truePositives.Length; k++)
        {
            tp += _truePositives[k];
            fp += _falsePositives[k];
            fn += _falseNegatives[k];
            if (_truePositives[k] + _falsePositives[k] + _falseNegatives[k] > 0)
            {
                macro += F1(_truePositives[k], _falsePositives[k], _falseNegatives[k]);
                counted++;
            }
        }
        return new ClassificationScores(_rows, _rows == 0 ? 0 : _exact / (double)_rows, F1(tp, fp, fn), counted == 0 ? 0 : macro / counted);
    }

    private static double F1(long tp, long fp, long fn) => tp == 0 ? 0 : 2.0 * tp / ((2.0 * tp) + fp + fn);
}
