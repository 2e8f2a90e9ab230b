using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models;

/// <summary>
/// A BERT-style sequence classifier body: the encoder, then the [CLS] position through a dense layer with tanh
/// (BERT's pooler), dropout, and a linear layer to one score per label.
/// </summary>
public sealed class TransformerClassifier : Module<Tensor, Tensor, Tensor>
{
    private readonly TransformerEncoderModel encoder;
    private readonly Linear pooler;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public TransformerClassifier(EncoderConfig config, int labels)
        : base(nameof(TransformerClassifier))
    {
        // "encoder" matches the MLM and CLM models' body, so --init-from loads a pretrained body by name.
        encoder = new TransformerEncoderModel(config);
        pooler = Linear(config.Hidden, config.Hidden);
        dropout = Dropout(config.Dropout);
        classifier = Linear(config.Hidden, labels);
        RegisterComponents();
    }

    /// <summary>Scores <c>[batch, labels]</c>.</summary>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        Tensor hidden = encoder.call(inputIds, attentionMask);
        Tensor first = hidden.select(1, 0);
        return classifier.call(dropout.call(tanh(pooler.call(first))));
    }
}

/// <summary>
/// A bag-of-embeddings classifier (fastText-style): the mean of the token embeddings of a row, dropout, and a linear
/// layer. Orders of magnitude faster than a transformer on a CPU and a strong baseline for topic labels.
/// </summary>
public sealed class BagOfEmbeddingsClassifier : Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding tokens;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public BagOfEmbeddingsClassifier(int vocabularySize, int hidden, int labels, double dropoutRate)
        : base(nameof(BagOfEmbeddingsClassifier))
    {
        tokens = Embedding(vocabularySize, hidden);
        dropout = Dropout(dropoutRate);
        classifier = Linear(hidden, labels);
        using (no_grad())
        {
            init.normal_(tokens.weight!, 0, 0.1);
        }
        RegisterComponents();
    }

    /// <summary>Scores <c>[batch, labels]</c>; padding (mask 0) does not count.</summary>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        Tensor mask = attentionMask.unsqueeze(2).to_type(ScalarType.Float32);
        Tensor sum = (tokens.call(inputIds) * mask).sum(1);
        Tensor mean = sum / mask.sum(1).clamp_min(1);
        return classifier.call(dropout.call(mean));
    }
}
