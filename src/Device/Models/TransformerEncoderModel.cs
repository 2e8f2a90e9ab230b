using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// A transformer body: token and position embeddings, layer norm, and a stack of transformer layers. Bidirectional
/// (BERT-style encoder) or causal (GPT-style decoder). With packed rows it keeps attention inside each document, and
/// takes each token's position from <c>position_ids</c>.
/// </summary>
/// <remarks>Input ids and attention mask are <c>[batch, seq]</c>; the output is <c>[batch, seq, hidden]</c>.</remarks>
public sealed class TransformerEncoderModel : Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding tokens;
    private readonly Embedding positions;
    private readonly LayerNorm norm;
    private readonly Dropout dropout;
    private readonly ModuleList<TransformerBlock> layers;
    private readonly bool _causal;

    /// <param name="config">The shape.</param>
    /// <param name="causal">True for a decoder: each token attends only to itself and the tokens before it.</param>
    public TransformerEncoderModel(EncoderConfig config, bool causal = false)
        : base(nameof(TransformerEncoderModel))
    {
        config.Validate();
        Config = config;
        _causal = causal;
        tokens = Embedding(config.VocabularySize, config.Hidden);
        positions = Embedding(config.MaxPositions, config.Hidden);
        norm = LayerNorm(config.Hidden);
        dropout = Dropout(config.Dropout);
        layers = ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new TransformerBlock(config.Hidden, config.Heads, config.FeedForward, config.Dropout)).ToArray());
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

    /// <summary>The token embedding module (an encoder-decoder shares it).</summary>
    public Embedding TokenEmbedding => tokens;

    public override Tensor forward(Tensor inputIds, Tensor attentionMask) => Encode(inputIds, attentionMask);

    /// <summary>
    /// Runs the stack. <paramref name="positionIds"/> (null: 0, 1, …) and <paramref name="documentIds"/> (null: one
    /// document per row) come from packed rows; with document ids, or when causal, attention is limited per token.
    /// </summary>
    public Tensor Encode(Tensor inputIds, Tensor attentionMask, Tensor? positionIds = null, Tensor? documentIds = null)
    {
        long length = inputIds.shape[1];
        if (length > Config.MaxPositions)
        {
            throw new ArgumentException($"Sequence length {length} exceeds the model's {Config.MaxPositions} positions.");
        }
        Tensor positionIndex = positionIds ?? arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        Tensor x = dropout.call(norm.call(tokens.call(inputIds) + positions.call(positionIndex)));
        Tensor allowed = documentIds is null && !_causal
            ? AttentionMasks.KeysNotPadding(attentionMask)
            : AttentionMasks.PerToken(documentIds ?? attentionMask - 1, _causal);
        foreach (TransformerBlock layer in layers)
        {
            x = layer.call(x, allowed);
        }
        return x;
    }
}

/// <summary>Attention masks for <see cref="TransformerBlock"/>: bool, true where a query may attend to a key.</summary>
public static class AttentionMasks
{
    /// <summary>
    /// <c>[batch, 1, 1, seq]</c>: every token attends to every real token of its row. A row that is all padding may
    /// attend to its position 0, so its softmax is never over nothing (NaN).
    /// </summary>
    public static Tensor KeysNotPadding(Tensor attentionMask) => Padding(attentionMask).logical_not().unsqueeze(1).unsqueeze(1);

    /// <summary>
    /// <c>[batch, seq]</c>, true on padding: libtorch's <c>key_padding_mask</c>. Position 0 is never padding, so a row
    /// that is all padding still has a key to attend to.
    /// </summary>
    public static Tensor Padding(Tensor attentionMask)
    {
        Tensor padding = attentionMask.eq(0);
        padding[TensorIndex.Colon, 0] = tensor(false, device: padding.device);
        return padding;
    }

    /// <summary>
    /// <c>[batch, 1, seq, seq]</c>: each token attends to the tokens of its own group (its document; padding is group
    /// −1), and with <paramref name="causal"/> only to those at or before it. Every token may attend to itself, so no
    /// row of the softmax is empty.
    /// </summary>
    public static Tensor PerToken(Tensor groups, bool causal)
    {
        long length = groups.shape[1];
        Tensor allowed = groups.unsqueeze(2).eq(groups.unsqueeze(1));
        if (causal)
        {
            allowed = allowed.logical_and(ones(length, length, dtype: ScalarType.Bool, device: groups.device).tril());
        }
        return allowed.unsqueeze(1);
    }

    /// <summary>A causal float mask <c>[seq, seq]</c> for libtorch's decoder layers: −∞ above the diagonal.</summary>
    public static Tensor Causal(long length, torch.Device device) =>
        zeros(length, length, dtype: ScalarType.Float32, device: device).masked_fill(ones(length, length, dtype: ScalarType.Bool, device: device).triu(1), float.NegativeInfinity);
}
