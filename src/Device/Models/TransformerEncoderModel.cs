using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>A BERT-style encoder body: token and position embeddings, layer norm, and a stack of transformer layers.</summary>
/// <remarks>Input ids and attention mask are <c>[batch, seq]</c>; the output is <c>[batch, seq, hidden]</c>.</remarks>
public sealed class TransformerEncoderModel : Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding tokens;
    private readonly Embedding positions;
    private readonly LayerNorm norm;
    private readonly Dropout dropout;
    private readonly TransformerEncoder encoder;

    public TransformerEncoderModel(EncoderConfig config)
        : base(nameof(TransformerEncoderModel))
    {
        config.Validate();
        Config = config;
        tokens = Embedding(config.VocabularySize, config.Hidden);
        positions = Embedding(config.MaxPositions, config.Hidden);
        norm = LayerNorm(config.Hidden);
        dropout = Dropout(config.Dropout);
        TransformerEncoderLayer layer = TransformerEncoderLayer(config.Hidden, config.Heads, config.FeedForward, config.Dropout, Activations.GELU);
        encoder = TransformerEncoder(layer, config.Layers);
        // BERT's initialisation: N(0, 0.02) embeddings. TorchSharp's default N(0, 1) makes the tied output
        // projection produce huge logits, so the first losses sit far above ln(vocabulary).
        using (no_grad())
        {
            init.normal_(tokens.weight!, 0, 0.02);
            init.normal_(positions.weight!, 0, 0.02);
        }
        RegisterComponents();
    }

    /// <summary>The encoder's shape.</summary>
    public EncoderConfig Config { get; }

    /// <summary>The token embedding matrix, for tying an output projection to it.</summary>
    public Parameter TokenEmbeddingWeight => tokens.weight!;

    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        long length = inputIds.shape[1];
        if (length > Config.MaxPositions)
        {
            throw new ArgumentException($"Sequence length {length} exceeds the model's {Config.MaxPositions} positions.");
        }
        using Tensor positionIds = arange(length, dtype: ScalarType.Int64, device: inputIds.device);
        Tensor x = dropout.call(norm.call(tokens.call(inputIds) + positions.call(positionIds)));
        // TorchSharp's TransformerEncoder wants [seq, batch, hidden] and a bool padding mask that is true on padding.
        Tensor padding = attentionMask.eq(0);
        // A row that is all padding would make attention softmax over nothing (NaN); let it attend to position 0.
        padding[TensorIndex.Colon, 0] = tensor(false, device: padding.device);
        Tensor y = encoder.call(x.transpose(0, 1), null!, padding);
        return y.transpose(0, 1);
    }
}
