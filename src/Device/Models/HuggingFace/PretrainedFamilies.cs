using StreamLoader.Device.Models.Bert;
using StreamLoader.Device.Models.DistilBert;
using StreamLoader.Device.Models.Gpt2;
using StreamLoader.Device.Models.Llama;
using StreamLoader.Device.Models.Roberta;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>One family of Hugging Face architectures (BERT, …): the modules it builds from a config, under Hugging Face's names.</summary>
public interface IPretrainedFamily
{
    /// <summary>The family's name ("bert").</summary>
    string Name { get; }

    /// <summary>The <c>architectures</c> entries it reads.</summary>
    IReadOnlyList<string> Architectures { get; }

    /// <summary>True when it reads <paramref name="config"/>.</summary>
    bool Reads(HuggingFaceConfig config);

    /// <summary>Positions the model has (the longest sequence it takes).</summary>
    int MaxPositions(HuggingFaceConfig config);

    /// <summary>Rows of its token embedding (the ids it takes are below this).</summary>
    int VocabularySize(HuggingFaceConfig config);

    /// <summary>A sequence classifier with <paramref name="labels"/> outputs, freshly initialised, named as the family's <c>…ForSequenceClassification</c>.</summary>
    PretrainedSequenceClassifier CreateSequenceClassifier(HuggingFaceConfig config, int labels);

    /// <summary>A causal language model (clm), freshly initialised, named as the family's <c>…LMHeadModel</c> / <c>…ForCausalLM</c>.</summary>
    PretrainedLanguageModel CreateCausalLanguageModel(HuggingFaceConfig config) =>
        throw new ArgumentException($"{config.Path}: {config.Describe()} is an encoder; clm starts from a decoder folder ({string.Join(", ", PretrainedFamilies.All.Where(f => f.Decodes).SelectMany(f => f.Architectures))}).");

    /// <summary>A masked language model (mlm), freshly initialised, named as the family's <c>…ForMaskedLM</c>.</summary>
    PretrainedLanguageModel CreateMaskedLanguageModel(HuggingFaceConfig config) =>
        throw new ArgumentException($"{config.Path}: mlm does not start from a {config.Describe()} folder yet; it starts from a bert one (BertForMaskedLM, BertForPreTraining, BertModel).");

    /// <summary>True for a family of decoders (it builds a causal language model).</summary>
    bool Decodes => false;
}

/// <summary>
/// A family's language model, causal (clm) or masked (mlm): the hidden states of (packed) rows, attention kept inside
/// each document (and causal for a decoder), and the vocabulary logits of chosen positions.
/// </summary>
public abstract class PretrainedLanguageModel : nn.Module
{
    protected PretrainedLanguageModel(string name)
        : base(name)
    {
    }

    /// <summary>The <c>architectures</c> entry of a folder holding this module.</summary>
    public abstract string Architecture { get; }

    /// <summary>Other names one of this module's tensors may have in a file.</summary>
    public abstract IEnumerable<string> Alternatives(string name);

    /// <summary>Final hidden states <c>[batch, seq, hidden]</c>.</summary>
    public abstract Tensor Hidden(Tensor inputIds, Tensor attentionMask, Tensor? positionIds, Tensor? documentIds);

    /// <summary>Vocabulary logits for hidden states <c>[n, hidden]</c>.</summary>
    public abstract Tensor Logits(Tensor hidden);

    /// <summary>Tensors of a head a folder may lack (a headless <c>BertModel</c>): made afresh, and said so. None for a decoder's tied head.</summary>
    public virtual IReadOnlyList<string> HeadPrefixes => [];
}

/// <summary>
/// A family's sequence classifier: the body and the head, named as <c>transformers</c> names them, so a folder's
/// weights load one to one. Scores are <c>[batch, labels]</c>.
/// </summary>
public abstract class PretrainedSequenceClassifier : nn.Module<Tensor, Tensor, Tensor>
{
    protected PretrainedSequenceClassifier(string name)
        : base(name)
    {
    }

    /// <summary>The <c>architectures</c> entry of a folder holding this module ("BertForSequenceClassification").</summary>
    public abstract string Architecture { get; }

    /// <summary>The head's parameter names start with one of these (a new head replaces them when the labels differ).</summary>
    public abstract IReadOnlyList<string> HeadPrefixes { get; }

    /// <summary>Other names one of this module's tensors may have in a file (a headless export without the body's prefix, legacy names).</summary>
    public abstract IEnumerable<string> Alternatives(string name);
}

/// <summary>The families StreamLoader reads, and the one message for a folder none of them reads.</summary>
public static class PretrainedFamilies
{
    /// <summary>Every family.</summary>
    public static IReadOnlyList<IPretrainedFamily> All { get; } = [new BertFamily(), new RobertaFamily(), new DistilBertFamily(), new Gpt2Family(), new LlamaFamily()];

    /// <summary>The family that reads <paramref name="config"/>; an error naming the architectures that are read otherwise.</summary>
    public static IPretrainedFamily For(HuggingFaceConfig config) =>
        All.FirstOrDefault(f => f.Reads(config))
        ?? throw new ArgumentException($"{config.Path}: {config.Describe()} is not supported; supported architectures: {string.Join(", ", All.SelectMany(f => f.Architectures))}.");
}
