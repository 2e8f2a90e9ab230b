using StreamLoader.Device.Models.Bert;
using StreamLoader.Device.Models.DistilBert;
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
    public static IReadOnlyList<IPretrainedFamily> All { get; } = [new BertFamily(), new RobertaFamily(), new DistilBertFamily()];

    /// <summary>The family that reads <paramref name="config"/>; an error naming the architectures that are read otherwise.</summary>
    public static IPretrainedFamily For(HuggingFaceConfig config) =>
        All.FirstOrDefault(f => f.Reads(config))
        ?? throw new ArgumentException($"{config.Path}: {config.Describe()} is not supported; supported architectures: {string.Join(", ", All.SelectMany(f => f.Architectures))}.");
}
