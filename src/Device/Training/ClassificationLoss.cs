using StreamLoader.Core.Tasks;
using StreamLoader.Device.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Training;

/// <summary>The loss every classifier trains with, whatever its body: softmax cross-entropy for one label, a sigmoid and BCE per label for several.</summary>
public static class ClassificationLoss
{
    /// <summary>
    /// The loss of <paramref name="scores"/> <c>[batch, labels]</c> against the batch's labels (ids, or multi-hot rows),
    /// rows marked <see cref="TaskTensors.IgnoreIndex"/> left out; null when no row has a label. Which rows have one is
    /// read from the host copy of the batch, so the step never waits for the device to find out.
    /// </summary>
    public static Tensor? Compute(Tensor scores, DeviceBatch batch, bool multiLabel)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(batch);
        int[] rows = batch.RowsWithTargets(TaskTensors.Labels);
        if (rows.Length == 0)
        {
            return null;
        }
        Tensor labels = batch[TaskTensors.Labels];
        if (!multiLabel)
        {
            return functional.cross_entropy(scores, labels); // rows of -100 are ignored
        }
        if (rows.Length == labels.shape[0])
        {
            return functional.binary_cross_entropy_with_logits(scores, labels);
        }
        Tensor kept = torch.tensor(Array.ConvertAll(rows, r => (long)r)).to(scores.device);
        return functional.binary_cross_entropy_with_logits(scores.index_select(0, kept), labels.index_select(0, kept));
    }
}
