using StreamLoader.Device.Runtime;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>A model that predicts labels as well as training on them: the trainer evaluates it on held-out batches.</summary>
public interface IClassifierModel : ITaskModel
{
    /// <summary>True when each row may have several labels (a sigmoid per label), false for one (softmax).</summary>
    bool MultiLabel { get; }

    /// <summary>The number of labels (columns of <see cref="Scores"/>).</summary>
    int Labels { get; }

    /// <summary>Multi-label: a label is predicted when its probability exceeds this (0.5 unless the task says otherwise).</summary>
    double Threshold => 0.5;

    /// <summary>Scores (logits) <c>[batch, labels]</c> for a batch, inside the caller's dispose scope.</summary>
    Tensor Scores(DeviceBatch batch);
}
