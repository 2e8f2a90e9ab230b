using StreamLoader.Core.Tasks;
using StreamLoader.Device.Models;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Clm;

/// <summary>The clm task's device side: a GPT-style decoder of a <c>--model</c> preset, or a pretrained causal LM folder.</summary>
public sealed class CausalLanguageModelingDevice : IDeviceTask
{
    public string TaskName => CausalLanguageModelingTask.TaskName;

    public ITaskModel CreateModel(ModelContext context) =>
        context.Pretrained is null ? new ClmModel(EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength)) : PretrainedLm.Create(context);
}

/// <summary>A GPT-style decoder (causal attention kept inside each packed document) with a tied LM head.</summary>
internal sealed class ClmModel : Module, ITaskModel
{
    private readonly TransformerEncoderModel encoder;
    private readonly LanguageModelHead head;

    public ClmModel(EncoderConfig config)
        : base(nameof(ClmModel))
    {
        // Named "encoder" like the other bodies, so --init-from can move weights between tasks.
        encoder = new TransformerEncoderModel(config, causal: true);
        head = new LanguageModelHead(config.Hidden, encoder.TokenEmbeddingWeight);
        RegisterComponents();
    }

    public Module Module => this;

    public Tensor? ComputeLoss(DeviceBatch batch)
    {
        Tensor hidden = encoder.Encode(batch[TaskTensors.InputIds], batch[TaskTensors.AttentionMask], batch[TaskTensors.PositionIds], batch[TaskTensors.DocumentIds]);
        return head.Loss(hidden, batch[TaskTensors.Labels]);
    }
}
