using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>The device side of a task plugin: builds the model and computes its loss on a batch.</summary>
/// <remarks>
/// A class of its own beside the task's <see cref="ITrainingTask"/> (the built-in ones in each task folder's
/// <c>Device/</c> subfolder), found by <see cref="DeviceTaskCatalog"/> by <see cref="TaskName"/>, so a loader never loads
/// it. A plugin assembly may also implement both interfaces on one class.
/// </remarks>
public interface IDeviceTask
{
    /// <summary>The <see cref="ITrainingTask.Name"/> of the task whose batches this model trains on.</summary>
    string TaskName { get; }

    /// <summary>
    /// Creates the model. The host seeds TorchSharp's generator from the run's seed before the call and moves the model
    /// to the compute device after it, so a task only builds its modules.
    /// </summary>
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
/// <param name="Vocabulary">The ids the model sees (the size of its embedding).</param>
/// <param name="SequenceLength">Tokens per row (the positions it needs).</param>
/// <param name="ModelSize">The <c>--model</c> preset name.</param>
/// <param name="Device">Where it will run (the host moves it there).</param>
/// <param name="Seed">The run's seed (the host has already seeded TorchSharp with it).</param>
/// <param name="Settings">The task's settings.</param>
public sealed record ModelContext(
    VocabularyInfo Vocabulary,
    int SequenceLength,
    string ModelSize,
    torch.Device Device,
    int Seed,
    TaskSettings Settings)
{
    /// <summary>A classifier's label names; null for other tasks.</summary>
    public LabelSet? Labels { get; init; }

    /// <summary>
    /// The Hugging Face model folder to start from (<c>--init-from DIR</c>, or <c>infer --checkpoint DIR</c>); null to
    /// build the <see cref="ModelSize"/> preset. A task that can start from one returns an
    /// <see cref="Models.HuggingFace.IPretrainedModel"/>; the host refuses the run for a task that cannot.
    /// </summary>
    public Models.HuggingFace.HuggingFaceModelFolder? Pretrained { get; init; }

    /// <summary>False to build <see cref="Pretrained"/>'s architecture with fresh weights (<c>--model DIR</c>: the same model trained from scratch).</summary>
    public bool LoadPretrainedWeights { get; init; } = true;

    /// <summary>The label names, or an error naming what is missing.</summary>
    public LabelSet RequireLabels() => Labels ?? throw new InvalidOperationException("This task's model needs the label names (--labels, or labels in the data).");

    /// <summary>Builds the model on the CPU as the host does (seeded), then moves it to <see cref="Device"/>: for tests and tools that skip the host.</summary>
    public ITaskModel Build(IDeviceTask task)
    {
        torch.random.manual_seed(Seed);
        ITaskModel model = task.CreateModel(this);
        model.Module.to(Device);
        return model;
    }
}
