using StreamLoader.Core.Tasks;
using StreamLoader.Device.Models;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Classify;

/// <summary>
/// A classifier for the classify and multilabel tasks: a BERT-style transformer (<c>--model micro|tiny|small|base</c>)
/// or a bag of embeddings (<c>--model bag</c>); softmax cross-entropy for one label, a sigmoid and BCE per label for several.
/// </summary>
internal sealed class ClassifierModel : Module, IClassifierModel
{
    private readonly Module<Tensor, Tensor, Tensor> body;

    public ClassifierModel(ModelContext context, bool multiLabel)
        : base(nameof(ClassifierModel))
    {
        MultiLabel = multiLabel;
        Labels = context.RequireLabels().Count;
        Threshold = multiLabel ? MultiLabelClassificationTask.ReadThreshold(context.Settings) : 0.5;
        body = string.Equals(context.ModelSize, "bag", StringComparison.OrdinalIgnoreCase)
            ? new BagOfEmbeddingsClassifier(context.Vocabulary.Size, 128, Labels, 0.1)
            : new TransformerClassifier(EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength), Labels);
        RegisterComponents();
    }

    public bool MultiLabel { get; }

    public int Labels { get; }

    public double Threshold { get; }

    public Module Module => this;

    public Tensor Scores(DeviceBatch batch) => body.call(batch[TaskTensors.InputIds], batch[TaskTensors.AttentionMask]);

    public Tensor? ComputeLoss(DeviceBatch batch)
    {
        Tensor labels = batch[TaskTensors.Labels];
        Tensor scores = Scores(batch);
        if (!MultiLabel)
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
