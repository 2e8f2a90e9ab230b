using StreamLoader.Device.Models.HuggingFace;
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
