using StreamLoader.Core.Tasks;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Training;

/// <summary>The loss every classifier trains with, whatever its body: softmax cross-entropy for one label, a sigmoid and BCE per label for several.</summary>
public static class ClassificationLoss
{
    /// <summary>
    /// The loss of <paramref name="scores"/> <c>[batch, labels]</c> against the batch's labels (ids, or multi-hot rows),
    /// rows marked <see cref="TaskTensors.IgnoreIndex"/> left out; null when no row has a label.
    /// </summary>
    public static Tensor? Compute(Tensor scores, Tensor labels, bool multiLabel)
    {
        if (!multiLabel)
        {
            return labels.ne(TaskTensors.IgnoreIndex).any().item<bool>() ? functional.cross_entropy(scores, labels) : null;
        }
        Tensor rows = labels.select(1, 0).ne(TaskTensors.IgnoreIndex).nonzero().squeeze(1);
        if (rows.numel() == 0)
        {
            return null;
        }
        return functional.binary_cross_entropy_with_logits(scores.index_select(0, rows), labels.index_select(0, rows));
    }
}
