using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>The device side of a task plugin: builds the model and computes its loss on a batch.</summary>
/// <remarks>A task plugin class implements this next to <see cref="ITrainingTask"/>.</remarks>
public interface IDeviceTask
{
    /// <summary>Creates the model on <see cref="ModelContext.Device"/>.</summary>
    ITaskModel CreateModel(ModelContext context);
}

/// <summary>A model as the trainer drives it.</summary>
public interface ITaskModel : IDisposable
{
    /// <summary>The module whose parameters are trained and saved.</summary>
    nn.Module Module { get; }

    /// <summary>
    /// The scalar loss for a batch, or null when the batch has nothing to learn from (no masked position). Runs inside
    /// the trainer's dispose scope: do not dispose inputs; intermediate tensors are freed with the scope.
    /// </summary>
    Tensor? ComputeLoss(DeviceBatch batch);
}

/// <summary>What a task needs to build its model.</summary>
public sealed record ModelContext(
    VocabularyInfo Vocabulary,
    int SequenceLength,
    string ModelSize,
    torch.Device Device,
    int Seed,
    TaskSettings Settings);
