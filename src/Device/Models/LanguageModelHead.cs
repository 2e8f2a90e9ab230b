using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// BERT's LM head: dense, GELU, layer norm, then a projection tied to the token embeddings plus a bias. The loss runs
/// on the positions with a target only, so a large vocabulary costs little per step.
/// </summary>
public sealed class LanguageModelHead : Module<Tensor, Tensor>
{
    private readonly Linear transform;
    private readonly LayerNorm transformNorm;
    private readonly Parameter decoderBias;
    // A delegate, not a Parameter field: TorchSharp registers Parameter fields it finds, and the matrix must stay its
    // owner's alone (registered twice, it would be saved twice and stepped twice by the optimizer).
    private readonly Func<Tensor> _tied;

    /// <param name="hidden">The body's hidden size.</param>
    /// <param name="tiedEmbedding">The token embedding matrix <c>[vocab, hidden]</c> the output projection shares.</param>
    public LanguageModelHead(int hidden, Parameter tiedEmbedding)
        : base(nameof(LanguageModelHead))
    {
        _tied = () => tiedEmbedding;
        transform = Linear(hidden, hidden);
        transformNorm = LayerNorm(hidden);
        decoderBias = Parameter(zeros(tiedEmbedding.shape[0]));
        // Registers transform, transformNorm and decoderBias; the tied matrix stays its owner's.
        register_module(nameof(transform), transform);
        register_module(nameof(transformNorm), transformNorm);
        register_parameter(nameof(decoderBias), decoderBias);
    }

    /// <summary>Vocabulary logits for hidden states <c>[n, hidden]</c>.</summary>
    public override Tensor forward(Tensor hidden) =>
        transformNorm.call(functional.gelu(transform.call(hidden))).matmul(_tied().t()) + decoderBias;

    /// <summary>
    /// Cross-entropy of <paramref name="hidden"/> <c>[batch, seq, hidden]</c> against <paramref name="labels"/>
    /// <c>[batch, seq]</c> over the positions whose label is not -100; null when there is none.
    /// </summary>
    public Tensor? Loss(Tensor hidden, Tensor labels) => LanguageModelLoss.Compute(hidden, labels, call);
}

/// <summary>The loss every language model trains with (mlm, clm; our bodies and pretrained ones alike).</summary>
public static class LanguageModelLoss
{
    /// <summary>
    /// Cross-entropy of <paramref name="hidden"/> <c>[batch, seq, hidden]</c> against <paramref name="labels"/>
    /// <c>[batch, seq]</c> over the positions whose label is not -100 only, their logits from <paramref name="logits"/>
    /// (so a large vocabulary costs little per step); null when no position has a label.
    /// </summary>
    public static Tensor? Compute(Tensor hidden, Tensor labels, Func<Tensor, Tensor> logits)
    {
        Tensor flat = labels.reshape(-1);
        Tensor positions = flat.ne(Core.Tasks.TaskTensors.IgnoreIndex).nonzero().squeeze(1);
        if (positions.numel() == 0)
        {
            return null;
        }
        Tensor selected = hidden.reshape(-1, hidden.shape[^1]).index_select(0, positions);
        return functional.cross_entropy(logits(selected), flat.index_select(0, positions));
    }
}
