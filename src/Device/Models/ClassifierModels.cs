using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// A classification head: BERT's pooler (a dense layer with tanh) when asked for, dropout, and a linear layer to one
/// score per label. Takes one vector per row <c>[batch, hidden]</c>.
/// </summary>
public sealed class ClassificationHead : Module<Tensor, Tensor>
{
    private readonly Linear? pooler;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public ClassificationHead(int hidden, int labels, double dropoutRate, bool pooled)
        : base(nameof(ClassificationHead))
    {
        dropout = Dropout(dropoutRate);
        classifier = Linear(hidden, labels);
        if (pooled)
        {
            pooler = Linear(hidden, hidden);
            register_module(nameof(pooler), pooler);
        }
        register_module(nameof(dropout), dropout);
        register_module(nameof(classifier), classifier);
    }

    /// <summary>Scores <c>[batch, labels]</c>.</summary>
    public override Tensor forward(Tensor rows) =>
        classifier.call(dropout.call(pooler is null ? rows : tanh(pooler.call(rows))));
}

/// <summary>
/// A bag of embeddings (fastText-style): the mean of a row's token embeddings, padding (mask 0) left out. With a
/// <see cref="ClassificationHead"/> it is a classifier orders of magnitude faster than a transformer on a CPU.
/// </summary>
public sealed class MeanPooledEmbeddings : Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding tokens;

    public MeanPooledEmbeddings(int vocabularySize, int hidden)
        : base(nameof(MeanPooledEmbeddings))
    {
        tokens = Embedding(vocabularySize, hidden);
        using (no_grad())
        {
            init.normal_(tokens.weight!, 0, 0.1);
        }
        RegisterComponents();
    }

    /// <summary><c>[batch, hidden]</c>.</summary>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        Tensor mask = attentionMask.unsqueeze(2).to_type(ScalarType.Float32);
        return (tokens.call(inputIds) * mask).sum(1) / mask.sum(1).clamp_min(1);
    }
}
