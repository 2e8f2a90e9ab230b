using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// A T5-style encoder-decoder: a bidirectional encoder over the corrupted input, and a causal decoder that attends to it
/// and predicts the target. The two share the token embedding, and the LM head is tied to it.
/// </summary>
public sealed class EncoderDecoderModel : Module
{
    private readonly TransformerEncoderModel encoder;
    private readonly Embedding decoderPositions;
    private readonly LayerNorm decoderNorm;
    private readonly Dropout dropout;
    private readonly TransformerDecoder decoder;
    private readonly LanguageModelHead head;
    private readonly EncoderConfig _config;

    /// <param name="config">The shape of both halves.</param>
    /// <param name="targetPositions">The longest target (decoder) sequence.</param>
    public EncoderDecoderModel(EncoderConfig config, int targetPositions)
        : base(nameof(EncoderDecoderModel))
    {
        _config = config;
        encoder = new TransformerEncoderModel(config);
        decoderPositions = Embedding(targetPositions, config.Hidden);
        decoderNorm = LayerNorm(config.Hidden);
        dropout = Dropout(config.Dropout);
        decoder = TransformerDecoder(TransformerDecoderLayer(config.Hidden, config.Heads, config.FeedForward, config.Dropout, Activations.GELU), config.Layers);
        head = new LanguageModelHead(config.Hidden, encoder.TokenEmbeddingWeight);
        using (no_grad())
        {
            init.normal_(decoderPositions.weight!, 0, 0.02);
        }
        RegisterComponents();
    }

    /// <summary>The loss of predicting <paramref name="labels"/> from the input and the shifted targets; null when no label.</summary>
    public Tensor? Loss(Tensor inputIds, Tensor attentionMask, Tensor decoderInputIds, Tensor labels)
    {
        Tensor memory = encoder.Encode(inputIds, attentionMask).transpose(0, 1);
        long length = decoderInputIds.shape[1];
        if (length > decoderPositions.weight!.shape[0])
        {
            throw new ArgumentException($"Target length {length} exceeds the model's {decoderPositions.weight!.shape[0]} target positions.");
        }
        Tensor positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        Tensor y = dropout.call(decoderNorm.call(encoder.TokenEmbedding.call(decoderInputIds) + decoderPositions.call(positions)));
        Tensor output = decoder.call(y.transpose(0, 1), memory, AttentionMasks.Causal(length, inputIds.device), null, null, AttentionMasks.Padding(attentionMask)).transpose(0, 1);
        return head.Loss(output, labels);
    }
}
