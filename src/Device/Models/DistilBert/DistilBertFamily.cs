using StreamLoader.Device.Models.HuggingFace;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.DistilBert;

/// <summary>
/// DistilBERT checkpoints (<c>model_type</c> "distilbert"): distilbert-base-uncased and its fine-tuned classifiers. Its
/// config names the sizes <c>dim</c>, <c>n_layers</c>, <c>n_heads</c> and <c>hidden_dim</c>; its blocks are BERT's
/// post-norm ones under other names; no token types and no pooler.
/// </summary>
public sealed class DistilBertFamily : IPretrainedFamily
{
    public string Name => "distilbert";

    public IReadOnlyList<string> Architectures { get; } = ["DistilBertModel", "DistilBertForSequenceClassification", "DistilBertForMaskedLM"];

    public bool Reads(HuggingFaceConfig config) =>
        config.ModelType == "distilbert" && (config.Architecture.Length == 0 || Architectures.Contains(config.Architecture));

    public int MaxPositions(HuggingFaceConfig config) => DistilBertConfig.From(config).MaxPositions;

    public int VocabularySize(HuggingFaceConfig config) => DistilBertConfig.From(config).VocabularySize;

    public PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels) =>
        new DistilBertForSequenceClassification(DistilBertConfig.From(config), labels);
}

/// <summary>The fields of a DistilBERT <c>config.json</c>, with <c>transformers</c>' defaults.</summary>
public sealed record DistilBertConfig(int VocabularySize, int Dim, int Layers, int Heads, int HiddenDim, int MaxPositions, double Dropout, double AttentionDropout, double ClassifierDropout, string Activation, int PadTokenId, string Path)
{
    /// <summary>DistilBERT's layer norms use a fixed epsilon (it has no config field).</summary>
    public const double LayerNormEps = 1e-12;

    public static DistilBertConfig From(HuggingFaceConfig config)
    {
        var result = new DistilBertConfig(
            config.GetInt("vocab_size"),
            config.GetInt("dim", 768),
            config.GetInt("n_layers", 6),
            config.GetInt("n_heads", 12),
            config.GetInt("hidden_dim", 3072),
            config.GetInt("max_position_embeddings", 512),
            config.GetDouble("dropout", 0.1),
            config.GetDouble("attention_dropout", 0.1),
            config.GetDouble("seq_classif_dropout", 0.2),
            config.GetString("activation") ?? "gelu",
            config.GetInt("pad_token_id", 0),
            config.Path);
        if (result.Dim % result.Heads != 0)
        {
            throw new InvalidDataException($"{config.Path}: dim {result.Dim} is not a multiple of n_heads {result.Heads}.");
        }
        return result;
    }

    /// <summary>The feed-forward activation.</summary>
    public Func<Tensor, Tensor> ActivationFunction() => Activation switch
    {
        "gelu" => x => functional.gelu(x),
        "relu" => x => functional.relu(x),
        _ => throw new InvalidDataException($"{Path}: activation \"{Activation}\" is not supported; supported: gelu, relu."),
    };
}

/// <summary>Hugging Face's <c>DistilBertForSequenceClassification</c>: <c>distilbert</c>, then <c>pre_classifier</c>, ReLU, dropout and <c>classifier</c> over the first token.</summary>
public sealed class DistilBertForSequenceClassification : PretrainedSequenceClassifier
{
    private readonly DistilBertModel distilbert;
    private readonly Linear pre_classifier;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public DistilBertForSequenceClassification(DistilBertConfig config, int labels)
        : base(nameof(DistilBertForSequenceClassification))
    {
        distilbert = new DistilBertModel(config);
        pre_classifier = Linear(config.Dim, config.Dim);
        dropout = Dropout(config.ClassifierDropout);
        classifier = Linear(config.Dim, labels);
        register_module(nameof(distilbert), distilbert);
        register_module(nameof(pre_classifier), pre_classifier);
        register_module(nameof(dropout), dropout);
        register_module(nameof(classifier), classifier);
        using (no_grad())
        {
            init.normal_(pre_classifier.weight!, 0, 0.02);
            init.zeros_(pre_classifier.bias!);
            init.normal_(classifier.weight!, 0, 0.02);
            init.zeros_(classifier.bias!);
        }
    }

    public override string Architecture => nameof(DistilBertForSequenceClassification);

    public override IReadOnlyList<string> HeadPrefixes { get; } = ["pre_classifier.", "classifier."];

    public override IEnumerable<string> Alternatives(string name) => WeightLoading.Alternatives(name, "distilbert.");

    public override Tensor forward(Tensor inputIds, Tensor attentionMask) =>
        classifier.call(dropout.call(functional.relu(pre_classifier.call(distilbert.call(inputIds, attentionMask).select(1, 0)))));
}

/// <summary>Hugging Face's <c>DistilBertModel</c>, name for name: <c>embeddings</c> and <c>transformer.layer.N</c>.</summary>
public sealed class DistilBertModel : Module<Tensor, Tensor, Tensor>
{
    private readonly DistilBertEmbeddings embeddings;
    private readonly DistilBertTransformer transformer;
    private readonly int _maxPositions;

    public DistilBertModel(DistilBertConfig config)
        : base(nameof(DistilBertModel))
    {
        _maxPositions = config.MaxPositions;
        embeddings = new DistilBertEmbeddings(config);
        transformer = new DistilBertTransformer(config);
        register_module(nameof(embeddings), embeddings);
        register_module(nameof(transformer), transformer);
    }

    /// <summary>The last hidden state <c>[batch, seq, dim]</c>.</summary>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask)
    {
        if (inputIds.shape[1] > _maxPositions)
        {
            throw new ArgumentException($"Sequence length {inputIds.shape[1]} exceeds the model's {_maxPositions} positions (max_position_embeddings).");
        }
        Tensor hidden = embeddings.call(inputIds);
        Tensor additive = (1.0 - attentionMask.unsqueeze(1).unsqueeze(2).to_type(hidden.dtype)) * torch.finfo(hidden.dtype).min;
        return transformer.call(hidden, additive);
    }
}

internal sealed class DistilBertEmbeddings : Module<Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    // Named as transformers names it: TorchSharp takes a parameter's name from the field that holds its module.
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    public DistilBertEmbeddings(DistilBertConfig config)
        : base(nameof(DistilBertEmbeddings))
    {
        word_embeddings = Embedding(config.VocabularySize, config.Dim, padding_idx: config.PadTokenId);
        position_embeddings = Embedding(config.MaxPositions, config.Dim);
        LayerNorm = torch.nn.LayerNorm(config.Dim, eps: DistilBertConfig.LayerNormEps);
        dropout = Dropout(config.Dropout);
        register_module(nameof(word_embeddings), word_embeddings);
        register_module(nameof(position_embeddings), position_embeddings);
        register_module(nameof(LayerNorm), LayerNorm);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor inputIds)
    {
        Tensor positions = arange(inputIds.shape[1], dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        return dropout.call(LayerNorm.call(word_embeddings.call(inputIds) + position_embeddings.call(positions)));
    }
}

internal sealed class DistilBertTransformer : Module<Tensor, Tensor, Tensor>
{
    private readonly ModuleList<DistilBertBlock> layer;

    public DistilBertTransformer(DistilBertConfig config)
        : base(nameof(DistilBertTransformer))
    {
        layer = ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new DistilBertBlock(config)).ToArray());
        register_module(nameof(layer), layer);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        foreach (DistilBertBlock block in layer)
        {
            hidden = block.call(hidden, additiveMask);
        }
        return hidden;
    }
}

internal sealed class DistilBertBlock : Module<Tensor, Tensor, Tensor>
{
    private readonly DistilBertAttention attention;
    private readonly LayerNorm sa_layer_norm;
    private readonly DistilBertFeedForward ffn;
    private readonly LayerNorm output_layer_norm;

    public DistilBertBlock(DistilBertConfig config)
        : base(nameof(DistilBertBlock))
    {
        attention = new DistilBertAttention(config);
        sa_layer_norm = LayerNorm(config.Dim, eps: DistilBertConfig.LayerNormEps);
        ffn = new DistilBertFeedForward(config);
        output_layer_norm = LayerNorm(config.Dim, eps: DistilBertConfig.LayerNormEps);
        register_module(nameof(attention), attention);
        register_module(nameof(sa_layer_norm), sa_layer_norm);
        register_module(nameof(ffn), ffn);
        register_module(nameof(output_layer_norm), output_layer_norm);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        Tensor attended = sa_layer_norm.call(attention.call(hidden, additiveMask) + hidden);
        return output_layer_norm.call(ffn.call(attended) + attended);
    }
}

internal sealed class DistilBertAttention : Module<Tensor, Tensor, Tensor>
{
    private readonly Linear q_lin;
    private readonly Linear k_lin;
    private readonly Linear v_lin;
    private readonly Linear out_lin;
    private readonly Dropout dropout;
    private readonly int _heads;
    private readonly int _headSize;

    public DistilBertAttention(DistilBertConfig config)
        : base(nameof(DistilBertAttention))
    {
        _heads = config.Heads;
        _headSize = config.Dim / config.Heads;
        q_lin = Linear(config.Dim, config.Dim);
        k_lin = Linear(config.Dim, config.Dim);
        v_lin = Linear(config.Dim, config.Dim);
        out_lin = Linear(config.Dim, config.Dim);
        dropout = Dropout(config.AttentionDropout);
        register_module(nameof(q_lin), q_lin);
        register_module(nameof(k_lin), k_lin);
        register_module(nameof(v_lin), v_lin);
        register_module(nameof(out_lin), out_lin);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        long batch = hidden.shape[0], length = hidden.shape[1];
        Tensor Heads(Tensor x) => x.view(batch, length, _heads, _headSize).transpose(1, 2);
        Tensor q = Heads(q_lin.call(hidden)) / Math.Sqrt(_headSize);
        Tensor k = Heads(k_lin.call(hidden));
        Tensor v = Heads(v_lin.call(hidden));
        Tensor scores = q.matmul(k.transpose(-1, -2)) + additiveMask;
        Tensor context = dropout.call(functional.softmax(scores, -1)).matmul(v);
        return out_lin.call(context.transpose(1, 2).contiguous().view(batch, length, _heads * _headSize));
    }
}

internal sealed class DistilBertFeedForward : Module<Tensor, Tensor>
{
    private readonly Linear lin1;
    private readonly Linear lin2;
    private readonly Dropout dropout;
    private readonly Func<Tensor, Tensor> _activation;

    public DistilBertFeedForward(DistilBertConfig config)
        : base(nameof(DistilBertFeedForward))
    {
        lin1 = Linear(config.Dim, config.HiddenDim);
        lin2 = Linear(config.HiddenDim, config.Dim);
        dropout = Dropout(config.Dropout);
        _activation = config.ActivationFunction();
        register_module(nameof(lin1), lin1);
        register_module(nameof(lin2), lin2);
        register_module(nameof(dropout), dropout);
    }

    public override Tensor forward(Tensor hidden) => dropout.call(lin2.call(_activation(lin1.call(hidden))));
}
