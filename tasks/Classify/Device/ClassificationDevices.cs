using StreamLoader.Core.Tasks;
using StreamLoader.Device.Models;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Classify;

/// <summary>The classify task's device side: <see cref="ClassifierModel"/> with a softmax, or a pretrained sequence classifier folder.</summary>
public sealed class ClassificationDevice : IDeviceTask
{
    public string TaskName => ClassificationTask.TaskName;

    public ITaskModel CreateModel(ModelContext context) =>
        context.Pretrained is null ? new ClassifierModel(context, multiLabel: false) : PretrainedClassifier.Create(context, multiLabel: false, MultiLabelOptions.Threshold.Default);
}

/// <summary>The multilabel task's device side: <see cref="ClassifierModel"/> with a sigmoid per label, or a pretrained sequence classifier folder.</summary>
public sealed class MultiLabelClassificationDevice : IDeviceTask
{
    public string TaskName => MultiLabelClassificationTask.TaskName;

    public ITaskModel CreateModel(ModelContext context) =>
        context.Pretrained is null
            ? new ClassifierModel(context, multiLabel: true)
            : PretrainedClassifier.Create(context, multiLabel: true, MultiLabelOptions.Threshold.Read(context.Settings));
}

/// <summary>
/// A classifier for the classify and multilabel tasks: a BERT-style encoder whose [CLS] position goes through BERT's
/// pooler (<c>--model micro|tiny|small|base</c>), or a bag of embeddings (<c>--model bag</c>); softmax cross-entropy
/// for one label, a sigmoid and BCE per label for several.
/// </summary>
/// <remarks>
/// The encoder is registered as <c>encoder</c>, as in the mlm and clm models, so <c>--init-from</c> a pretraining run
/// loads its body by name.
/// </remarks>
internal sealed class ClassifierModel : Module, IClassifierModel
{
    private readonly TransformerEncoderModel? _encoder;
    private readonly MeanPooledEmbeddings? _bag;
    private readonly ClassificationHead _head;

    public ClassifierModel(ModelContext context, bool multiLabel)
        : base(nameof(ClassifierModel))
    {
        MultiLabel = multiLabel;
        Labels = context.RequireLabels().Count;
        Threshold = multiLabel ? MultiLabelOptions.Threshold.Read(context.Settings) : MultiLabelOptions.Threshold.Default;
        if (string.Equals(context.ModelSize, "bag", StringComparison.OrdinalIgnoreCase))
        {
            _bag = new MeanPooledEmbeddings(context.Vocabulary.Size, 128);
            _head = new ClassificationHead(128, Labels, 0.1, pooled: false);
            register_module("bag", _bag);
        }
        else
        {
            EncoderConfig config = EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength);
            _encoder = new TransformerEncoderModel(config);
            _head = new ClassificationHead(config.Hidden, Labels, config.Dropout, pooled: true);
            register_module("encoder", _encoder);
        }
        register_module("head", _head);
    }

    public bool MultiLabel { get; }

    public int Labels { get; }

    public double Threshold { get; }

    public Module Module => this;

    public Tensor Scores(DeviceBatch batch)
    {
        Tensor ids = batch[TaskTensors.InputIds];
        Tensor mask = batch[TaskTensors.AttentionMask];
        return _head.call(_encoder is not null ? _encoder.call(ids, mask).select(1, 0) : _bag!.call(ids, mask));
    }

    public Tensor? ComputeLoss(DeviceBatch batch) => ClassificationLoss.Compute(Scores(batch), batch, MultiLabel);
}
