using StreamLoader.Core.Tasks;
using StreamLoader.Device.Models;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Span;

/// <summary>The span task's device side: a T5-style encoder-decoder whose decoder is as long as the task's targets.</summary>
public sealed class SpanCorruptionDevice : IDeviceTask
{
    public string TaskName => SpanCorruptionTask.TaskName;

    public ITaskModel CreateModel(ModelContext context)
    {
        int target = SpanCorruptionTask.Corruption(context.Settings).Lengths(context.SequenceLength).Target;
        return new SpanModel(EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength), target);
    }
}

/// <summary>The T5-style encoder-decoder for span corruption.</summary>
internal sealed class SpanModel : Module, ITaskModel
{
    private readonly EncoderDecoderModel model;

    public SpanModel(EncoderConfig config, int targetLength)
        : base(nameof(SpanModel))
    {
        model = new EncoderDecoderModel(config, targetLength);
        RegisterComponents();
    }

    public Module Module => this;

    public Tensor? ComputeLoss(DeviceBatch batch) =>
        model.Loss(batch[TaskTensors.InputIds], batch[TaskTensors.AttentionMask], batch[TaskTensors.DecoderInputIds], batch[TaskTensors.Labels]);
}
