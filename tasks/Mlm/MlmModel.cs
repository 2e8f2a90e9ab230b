using StreamLoader.Device.Models;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Tasks.Mlm;

/// <summary>
/// A BERT-style encoder with an MLM head (dense, GELU, layer norm, then a projection tied to the token embeddings).
/// The head runs only on the masked positions, so a large vocabulary costs little per step.
/// </summary>
internal sealed class MlmModel : Module, ITaskModel
{
    private readonly TransformerEncoderModel encoder;
    private readonly Linear transform;
    private readonly LayerNorm transformNorm;
    private readonly Parameter decoderBias;

    public MlmModel(EncoderConfig config)
        : base(nameof(MlmModel))
    {
        encoder = new TransformerEncoderModel(config);
        transform = Linear(config.Hidden, config.Hidden);
        transformNorm = LayerNorm(config.Hidden);
        decoderBias = Parameter(zeros(config.VocabularySize));
        RegisterComponents();
    }

    public Module Module => this;

    public Tensor? ComputeLoss(DeviceBatch batch)
    {
        Tensor hidden = encoder.call(batch["input_ids"], batch["attention_mask"]);
        Tensor labels = batch["labels"].reshape(-1);
        Tensor positions = labels.ne(BertMasking.IgnoreIndex).nonzero().squeeze(1);
        if (positions.numel() == 0)
        {
            return null;
        }
        Tensor selected = hidden.reshape(-1, hidden.shape[2]).index_select(0, positions);
        Tensor transformed = transformNorm.call(functional.gelu(transform.call(selected)));
        Tensor logits = transformed.matmul(encoder.TokenEmbeddingWeight.t()) + decoderBias;
        return functional.cross_entropy(logits, labels.index_select(0, positions));
    }
}
