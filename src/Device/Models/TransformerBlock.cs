using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// One post-norm transformer layer (BERT's): self-attention through <c>scaled_dot_product_attention</c>, then a GELU
/// feed-forward, each with a residual and layer norm. Batch-first <c>[batch, seq, hidden]</c>, and it takes a mask per
/// row (<c>[batch, 1, seq, seq]</c>), which libtorch's own <c>TransformerEncoderLayer</c> does not: packed rows need one.
/// </summary>
public sealed class TransformerBlock : Module<Tensor, Tensor?, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear output;
    private readonly LayerNorm attentionNorm;
    private readonly Linear up;
    private readonly Linear down;
    private readonly LayerNorm feedForwardNorm;
    private readonly Dropout dropout;
    private readonly int _heads;
    private readonly double _dropout;

    public TransformerBlock(int hidden, int heads, int feedForward, double dropoutRate)
        : base(nameof(TransformerBlock))
    {
        _heads = heads;
        _dropout = dropoutRate;
        qkv = Linear(hidden, 3 * hidden);
        output = Linear(hidden, hidden);
        attentionNorm = LayerNorm(hidden);
        up = Linear(hidden, feedForward);
        down = Linear(feedForward, hidden);
        feedForwardNorm = LayerNorm(hidden);
        dropout = Dropout(dropoutRate);
        RegisterComponents();
    }

    /// <summary>
    /// <paramref name="allowed"/>: a bool mask broadcastable to <c>[batch, heads, seq, seq]</c>, true where a token may
    /// attend; every query must have at least one key allowed.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor? allowed)
    {
        long batch = x.shape[0];
        long length = x.shape[1];
        long hidden = x.shape[2];
        Tensor projected = qkv.call(x).view(batch, length, 3, _heads, hidden / _heads).permute(2, 0, 3, 1, 4);
        Tensor attended = functional.scaled_dot_product_attention(projected[0], projected[1], projected[2], allowed, training ? _dropout : 0.0)
            .transpose(1, 2).reshape(batch, length, hidden);
        x = attentionNorm.call(x + dropout.call(output.call(attended)));
        return feedForwardNorm.call(x + dropout.call(down.call(dropout.call(functional.gelu(up.call(x))))));
    }
}
