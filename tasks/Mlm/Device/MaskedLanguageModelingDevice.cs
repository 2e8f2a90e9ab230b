using StreamLoader.Core.Tasks;
using StreamLoader.Device.Models;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Mlm;

/// <summary>The mlm task's device side: a BERT-style encoder of a <c>--model</c> preset, or a pretrained masked LM folder.</summary>
public sealed class MaskedLanguageModelingDevice : IDeviceTask
{
    public string TaskName => MaskedLanguageModelingTask.TaskName;

    public ITaskModel CreateModel(ModelContext context) =>
        context.Pretrained is null ? new MlmModel(EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength)) : PretrainedLm.Create(context, masked: true);
}

/// <summary>A BERT-style encoder with BERT's LM head, its loss on the masked positions only.</summary>
internal sealed class MlmModel : Module, ITaskModel
{
    private readonly TransformerEncoderModel encoder;
    private readonly LanguageModelHead head;

    public MlmModel(EncoderConfig config)
        : base(nameof(MlmModel))
    {
        encoder = new TransformerEncoderModel(config);
        head = new LanguageModelHead(config.Hidden, encoder.TokenEmbeddingWeight);
        RegisterComponents();
    }

    public Module Module => this;

    public Tensor? ComputeLoss(DeviceBatch batch)
    {
        Tensor hidden = encoder.Encode(
            batch[TaskTensors.InputIds],
            batch[TaskTensors.AttentionMask],
            batch.Contains(TaskTensors.PositionIds) ? batch[TaskTensors.PositionIds] : null,
            batch.Contains(TaskTensors.DocumentIds) ? batch[TaskTensors.DocumentIds] : null);
        return head.Loss(hidden, batch[TaskTensors.Labels]);
    }
}
