using StreamLoader.Device.Inference;
using StreamLoader.Device.Runtime;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>A model that predicts labels as well as training on them: the trainer evaluates it on held-out batches, and inference runs it.</summary>
public interface IClassifierModel : IPredictingModel
{
    /// <summary>The number of labels (columns of <see cref="Scores"/>).</summary>
    int Labels { get; }

    /// <summary>Multi-label: a label is predicted when its probability exceeds this (the threshold option's default unless the task says otherwise).</summary>
    double Threshold => Core.Tasks.MultiLabelOptions.Threshold.Default;

    /// <summary>Scores (logits) <c>[batch, labels]</c> for a batch, inside the caller's dispose scope.</summary>
    Tensor Scores(DeviceBatch batch);

    int IPredictingModel.Outputs => Labels;

    /// <summary>A softmax over the scores for one label, a sigmoid per score for several.</summary>
    Tensor IPredictingModel.Predict(DeviceBatch batch) => MultiLabel ? sigmoid(Scores(batch)) : nn.functional.softmax(Scores(batch), 1);
}
