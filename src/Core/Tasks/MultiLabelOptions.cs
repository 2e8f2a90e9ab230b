namespace StreamLoader.Core.Tasks;

/// <summary>The settings multi-label training and multi-label inference share, declared once for both.</summary>
public static class MultiLabelOptions
{
    /// <summary>The <c>threshold</c> setting (<c>--threshold</c>).</summary>
    public static readonly TaskOption<double> Threshold = TaskOption.Probability("threshold", 0.5,
        "Multi-label: a label is predicted when its probability exceeds this; in training's held-out evaluation (the model's and the baselines' alike), and in the rows inference writes for a multilabel checkpoint.", "--threshold");
}
