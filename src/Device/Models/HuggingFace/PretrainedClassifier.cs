using StreamLoader.Core.Tasks;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A classifier built from a Hugging Face model folder (<c>--init-from DIR</c> for classify and multilabel, or
/// <c>infer --checkpoint DIR</c>): the family's <c>…ForSequenceClassification</c> with the folder's weights. The
/// folder's head is kept when its labels are the run's, in the same order; otherwise a new head is initialised and
/// <see cref="Description"/> says so and why.
/// </summary>
public sealed class PretrainedClassifier : IClassifierModel, IPretrainedModel
{
    private readonly PretrainedSequenceClassifier _module;

    private PretrainedClassifier(HuggingFaceModelFolder folder, PretrainedSequenceClassifier module, IReadOnlyList<string> labels, bool multiLabel, double threshold, WeightLoadReport report, string description)
    {
        Folder = folder;
        _module = module;
        Labels = labels.Count;
        LabelNames = labels;
        MultiLabel = multiLabel;
        Threshold = threshold;
        Report = report;
        Description = description;
    }

    public nn.Module Module => _module;

    public HuggingFaceModelFolder Folder { get; }

    public int Labels { get; }

    /// <summary>The labels, by score column.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    public bool MultiLabel { get; }

    public double Threshold { get; }

    /// <summary>True when the head was made afresh (the folder had none, or other labels).</summary>
    public bool NewHead { get; private init; }

    /// <summary>Which tensors came from the folder.</summary>
    public WeightLoadReport Report { get; }

    /// <summary>One line for the run's log and report: the architecture, what was loaded, and whether the head is new.</summary>
    public string Description { get; }

    /// <summary>Builds the classifier a classify or multilabel run asks for from <see cref="ModelContext.Pretrained"/>.</summary>
    public static PretrainedClassifier Create(ModelContext context, bool multiLabel, double threshold) =>
        Create(context.Pretrained ?? throw new InvalidOperationException("The run has no Hugging Face folder to start from."), context.RequireLabels().Names, multiLabel, threshold, context.SequenceLength, context.Vocabulary.Size, context.LoadPretrainedWeights);

    /// <summary>
    /// Builds the classifier for <paramref name="labels"/> and loads the folder's weights into it. The run's
    /// <paramref name="sequenceLength"/> and <paramref name="vocabularySize"/> are checked against the model's
    /// positions and embedding rows first.
    /// </summary>
    /// <param name="folder">The folder: its config.json and weights.</param>
    /// <param name="labels">The run's labels, by score column.</param>
    /// <param name="multiLabel">Several labels per row (a sigmoid each) rather than one (a softmax).</param>
    /// <param name="threshold">Multi-label: the probability above which a label is predicted.</param>
    /// <param name="sequenceLength">The run's row length, at most the model's positions.</param>
    /// <param name="vocabularySize">The tokenizer's ids, at most the model's embedding rows.</param>
    /// <param name="loadWeights">False builds the architecture with fresh weights (the same model trained from scratch).</param>
    public static PretrainedClassifier Create(HuggingFaceModelFolder folder, IReadOnlyList<string> labels, bool multiLabel, double threshold, int sequenceLength, int vocabularySize, bool loadWeights = true)
    {
        IPretrainedFamily family = folder.Family;
        HuggingFaceConfig config = folder.Config;
        PretrainedModels.CheckFits(folder, sequenceLength, vocabularySize);
        PretrainedSequenceClassifier module = family.CreateSequenceClassifier(config, labels.Count);
        if (!loadWeights)
        {
            int tensors = module.state_dict().Count;
            return new PretrainedClassifier(folder, module, labels, multiLabel, threshold, new WeightLoadReport([], [], []), $"Hugging Face {config.Describe()} architecture from {folder.Folder}: {tensors} tensors initialised afresh (--model DIR trains it from scratch; --init-from DIR loads its weights)") { NewHead = true };
        }
        try
        {
            using HuggingFaceWeights weights = folder.OpenWeights();
            string? why = NewHeadReason(config, weights, module, labels);
            WeightLoadReport report = WeightLoading.Load(module, weights, folder.Folder, module.Alternatives,
                why is null ? null : name => module.HeadPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)));
            if (report.Loaded.Count == 0)
            {
                throw new InvalidDataException($"{folder.Folder}: none of the weights' tensor names match {config.Describe()}'s ({string.Join(", ", report.Missing.Take(3))}, …).");
            }
            var body = report.Missing.Where(n => !module.HeadPrefixes.Any(p => n.StartsWith(p, StringComparison.Ordinal))).ToList();
            if (body.Count > 0)
            {
                throw new InvalidDataException($"{folder.Folder}: the weights lack {body.Count} of the body's tensors ({string.Join(", ", body.Take(3))}{(body.Count > 3 ? ", …" : string.Empty)}); they do not belong to {config.Describe()}.");
            }
            string head = why is null ? $"its head kept ({labels.Count} labels)" : $"a new head for {labels.Count} labels ({why})";
            string description = $"Hugging Face {config.Describe()} from {folder.Folder}: {report.Loaded.Count} of {report.Loaded.Count + report.Missing.Count} tensors loaded, {head}";
            return new PretrainedClassifier(folder, module, labels, multiLabel, threshold, report, description) { NewHead = why is not null };
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Null when the folder's head fits the run's labels; otherwise why a new one is made.</summary>
    private static string? NewHeadReason(HuggingFaceConfig config, HuggingFaceWeights weights, PretrainedSequenceClassifier module, IReadOnlyList<string> labels)
    {
        var head = module.state_dict().Keys.Where(n => module.HeadPrefixes.Any(p => n.StartsWith(p, StringComparison.Ordinal))).ToList();
        if (!head.All(weights.Contains))
        {
            return "the folder has no classification head";
        }
        IReadOnlyList<string>? names = config.Labels;
        if (names is null || !names.SequenceEqual(labels, StringComparer.Ordinal))
        {
            string theirs = names is null ? "none" : string.Join(", ", names.Take(6)) + (names.Count > 6 ? ", …" : string.Empty);
            return $"the folder's labels ({theirs}) are not the run's";
        }
        return null;
    }

    public Tensor Scores(DeviceBatch batch) => _module.call(batch[TaskTensors.InputIds], batch[TaskTensors.AttentionMask]);

    public Tensor? ComputeLoss(DeviceBatch batch) => ClassificationLoss.Compute(Scores(batch), batch, MultiLabel);

    public string Export(string output, IReadOnlyDictionary<string, string> metadata)
    {
        string written = HuggingFaceExport.Write(_module, Folder.Config, _module.Architecture, output, metadata, root => HuggingFaceConfig.SetLabels(root, LabelNames, MultiLabel));
        return $"{written}, {LabelNames.Count} labels, {(MultiLabel ? "multi_label_classification" : "single_label_classification")}";
    }

    public void Dispose() => _module.Dispose();
}
