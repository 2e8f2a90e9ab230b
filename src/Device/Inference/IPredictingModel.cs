using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;

namespace StreamLoader.Device.Inference;

/// <summary>A model that predicts as well as trains: what <c>streamloader infer</c> runs over a corpus.</summary>
public interface IPredictingModel : ITaskModel
{
    /// <summary>Probabilities per row (the model's labels).</summary>
    int Outputs { get; }

    /// <summary>True when the outputs are independent (a sigmoid each, several labels per row); false for a softmax.</summary>
    bool MultiLabel { get; }

    /// <summary>
    /// Probabilities <c>[batch, outputs]</c> for a batch's rows, inside the caller's dispose scope (the caller copies
    /// them out of it). The caller puts the module in evaluation mode and turns gradients off.
    /// </summary>
    Tensor Predict(DeviceBatch batch);
}
