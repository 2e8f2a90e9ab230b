using StreamLoader.Device.Models.Bert;
using StreamLoader.Device.Models.HuggingFace;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Device.Models.Roberta;

/// <summary>
/// RoBERTa and XLM-RoBERTa checkpoints (<c>model_type</c> "roberta", "xlm-roberta"): BERT's architecture (the same
/// <see cref="BertModel"/>, under <c>roberta.</c>) with positions counted after the padding id, one token type, and a
/// classification head of its own (dense, tanh, out_proj over the first token, no pooler).
/// </summary>
public sealed class RobertaFamily : IPretrainedFamily
{
    public string Name => "roberta";

    public IReadOnlyList<string> Architectures { get; } =
        ["RobertaModel", "RobertaForSequenceClassification", "RobertaForMaskedLM", "XLMRobertaModel", "XLMRobertaForSequenceClassification", "XLMRobertaForMaskedLM"];

    public bool Reads(HuggingFaceConfig config) =>
        config.ModelType is "roberta" or "xlm-roberta" && (config.Architecture.Length == 0 || Architectures.Contains(config.Architecture));

    public int MaxPositions(HuggingFaceConfig config) => BertConfig.From(config).UsablePositions;

    public int VocabularySize(HuggingFaceConfig config) => BertConfig.From(config).VocabularySize;

    public PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels) =>
        new RobertaForSequenceClassification(BertConfig.From(config), labels, config.Path, config.ModelType == "xlm-roberta" ? "XLMRobertaForSequenceClassification" : "RobertaForSequenceClassification");
}

/// <summary>Hugging Face's <c>RobertaForSequenceClassification</c>: <c>roberta</c> (no pooler) and <c>classifier.dense</c> / <c>classifier.out_proj</c>.</summary>
public sealed class RobertaForSequenceClassification : PretrainedSequenceClassifier
{
    private readonly BertModel roberta;
    private readonly RobertaClassificationHead classifier;

    public RobertaForSequenceClassification(BertConfig config, int labels, string path, string architecture)
        : base(nameof(RobertaForSequenceClassification))
    {
        Architecture = architecture;
        roberta = new BertModel(config, withPooler: false, path);
        classifier = new RobertaClassificationHead(config, labels);
        register_module(nameof(roberta), roberta);
        register_module(nameof(classifier), classifier);
    }

    public override string Architecture { get; }

    public override IReadOnlyList<string> HeadPrefixes { get; } = ["classifier."];

    public override IEnumerable<string> Alternatives(string name) => WeightLoading.Alternatives(name, "roberta.");

    public override Tensor forward(Tensor inputIds, Tensor attentionMask) =>
        classifier.call(roberta.Encode(inputIds, attentionMask, null).select(1, 0));
}

/// <summary>RoBERTa's head over the first token: dropout, dense, tanh, dropout, out_proj.</summary>
internal sealed class RobertaClassificationHead : Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly Dropout dropout;
    private readonly Linear out_proj;

    public RobertaClassificationHead(BertConfig config, int labels)
        : base(nameof(RobertaClassificationHead))
    {
        dense = Linear(config.Hidden, config.Hidden);
        dropout = Dropout(config.ClassifierDropout);
        out_proj = Linear(config.Hidden, labels);
        register_module(nameof(dense), dense);
        register_module(nameof(dropout), dropout);
        register_module(nameof(out_proj), out_proj);
        using (no_grad())
        {
            init.normal_(dense.weight!, 0, 0.02);
            init.zeros_(dense.bias!);
            init.normal_(out_proj.weight!, 0, 0.02);
            init.zeros_(out_proj.bias!);
        }
    }

    public override Tensor forward(Tensor first) => out_proj.call(dropout.call(tanh(dense.call(dropout.call(first)))));
}
