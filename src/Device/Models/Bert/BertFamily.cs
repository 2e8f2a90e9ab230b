using StreamLoader.Device.Models.HuggingFace;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.Bert;

/// <summary>BERT checkpoints (<c>model_type</c> "bert"): bert-base-uncased, all-MiniLM-L6-v2 and the like.</summary>
public sealed class BertFamily : IPretrainedFamily
{
    public string Name => "bert";

    public IReadOnlyList<string> Architectures { get; } = ["BertModel", "BertForSequenceClassification", "BertForMaskedLM", "BertForPreTraining"];

    public bool Reads(HuggingFaceConfig config) =>
        config.ModelType == "bert" && (config.Architecture.Length == 0 || Architectures.Contains(config.Architecture));

    public int MaxPositions(HuggingFaceConfig config) => BertConfig.From(config).UsablePositions;

    public int VocabularySize(HuggingFaceConfig config) => BertConfig.From(config).VocabularySize;

    public PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels) =>
        new BertForSequenceClassification(BertConfig.From(config), labels, config.Path);

    public PretrainedLanguageModel CreateMaskedLanguageModel(HuggingFaceConfig config) => new BertForMaskedLM(BertConfig.From(config), config.Path);

    /// <summary>The names a BERT tensor may have in a file besides its own (<see cref="WeightLoading.Alternatives"/>).</summary>
    internal static IEnumerable<string> Alternatives(string name) => WeightLoading.Alternatives(name, "bert.");
}

/// <summary>Hugging Face's <c>BertForSequenceClassification</c>: <c>bert</c> (with its pooler), dropout, and <c>classifier</c>.</summary>
public sealed class BertForSequenceClassification : PretrainedSequenceClassifier
{
    private readonly BertModel bert;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public BertForSequenceClassification(BertConfig config, int labels, string path)
        : base(nameof(BertForSequenceClassification))
    {
        bert = new BertModel(config, withPooler: true, path);
        dropout = Dropout(config.ClassifierDropout);
        classifier = Linear(config.Hidden, labels);
        register_module(nameof(bert), bert);
        register_module(nameof(dropout), dropout);
        register_module(nameof(classifier), classifier);
        using (no_grad())
        {
            init.normal_(classifier.weight!, 0, 0.02);
            init.zeros_(classifier.bias!);
        }
    }

    /// <summary>The body.</summary>
    public BertModel Bert => bert;

    public override string Architecture => nameof(BertForSequenceClassification);

    public override IReadOnlyList<string> HeadPrefixes { get; } = ["classifier."];

    public override IEnumerable<string> Alternatives(string name) => BertFamily.Alternatives(name);

    public override Tensor forward(Tensor inputIds, Tensor attentionMask) =>
        classifier.call(dropout.call(bert.Pool(bert.Encode(inputIds, attentionMask, null))));
}

/// <summary>
/// Hugging Face's <c>BertForMaskedLM</c>: <c>bert</c> (no pooler) and <c>cls.predictions</c> (transform: dense, the
/// activation, LayerNorm; then a decoder tied to the word embeddings, plus <c>cls.predictions.bias</c>).
/// </summary>
public sealed class BertForMaskedLM : PretrainedLanguageModel
{
    private readonly BertModel bert;
    private readonly BertOnlyMlmHead cls;

    public BertForMaskedLM(BertConfig config, string path)
        : base(nameof(BertForMaskedLM))
    {
        bert = new BertModel(config, withPooler: false, path);
        cls = new BertOnlyMlmHead(config, path);
        register_module(nameof(bert), bert);
        register_module(nameof(cls), cls);
    }

    public override string Architecture => nameof(BertForMaskedLM);

    public override IReadOnlyList<string> HeadPrefixes { get; } = ["cls."];

    public override IEnumerable<string> Alternatives(string name) => BertFamily.Alternatives(name);

    public override Tensor Hidden(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds) =>
        bert.Encode(inputIds, attentionMask, null, positionIds, documentIds);

    public override Tensor Logits(Tensor hidden) => cls.Logits(hidden, bert.WordEmbeddings);
}

internal sealed class BertOnlyMlmHead : Module
{
    private readonly BertLmPredictionHead predictions;

    public BertOnlyMlmHead(BertConfig config, string path)
        : base(nameof(BertOnlyMlmHead))
    {
        predictions = new BertLmPredictionHead(config, path);
        register_module(nameof(predictions), predictions);
    }

    public Tensor Logits(Tensor hidden, Tensor wordEmbeddings) => predictions.Logits(hidden, wordEmbeddings);
}

internal sealed class BertLmPredictionHead : Module
{
    private readonly BertPredictionTransform transform;
    private readonly Parameter bias;

    public BertLmPredictionHead(BertConfig config, string path)
        : base(nameof(BertLmPredictionHead))
    {
        transform = new BertPredictionTransform(config, path);
        bias = Parameter(zeros(config.VocabularySize));
        register_module(nameof(transform), transform);
        register_parameter(nameof(bias), bias);
    }

    /// <summary>The decoder is the word embedding matrix (tied, as every BERT checkpoint has it), plus the bias.</summary>
    public Tensor Logits(Tensor hidden, Tensor wordEmbeddings) => transform.call(hidden).matmul(wordEmbeddings.t()) + bias;
}

internal sealed class BertPredictionTransform : Module<Tensor, Tensor>
{
    private readonly Linear dense;
    // Named as transformers names it: TorchSharp takes a parameter's name from the field that holds its module.
    private readonly LayerNorm LayerNorm;
    private readonly Func<Tensor, Tensor> _activation;

    public BertPredictionTransform(BertConfig config, string path)
        : base(nameof(BertPredictionTransform))
    {
        dense = Linear(config.Hidden, config.Hidden);
        LayerNorm = torch.nn.LayerNorm(config.Hidden, eps: config.LayerNormEps);
        _activation = config.ActivationFunction(path);
        register_module(nameof(dense), dense);
        register_module(nameof(LayerNorm), LayerNorm);
    }

    public override Tensor forward(Tensor hidden) => LayerNorm.call(_activation(dense.call(hidden)));
}
