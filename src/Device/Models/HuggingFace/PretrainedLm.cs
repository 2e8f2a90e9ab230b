using StreamLoader.Core.Tasks;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A language model built from a Hugging Face folder: causal from a decoder (<c>--task clm --init-from DIR</c>, labels
/// already the next token, so no shift here, unlike transformers' LM heads) or masked from an encoder
/// (<c>--task mlm</c>); continued pretraining on StreamLoader's rows, packed ones with attention kept inside each document.
/// </summary>
public sealed class PretrainedLm : ITaskModel, IPretrainedModel
{
    private readonly PretrainedLanguageModel _module;

    private PretrainedLm(HuggingFaceModelFolder folder, PretrainedLanguageModel module, WeightLoadReport report, string description)
    {
        Folder = folder;
        _module = module;
        Report = report;
        Description = description;
    }

    public nn.Module Module => _module;

    public HuggingFaceModelFolder Folder { get; }

    /// <summary>Which tensors came from the folder.</summary>
    public WeightLoadReport Report { get; }

    public string Description { get; }

    /// <summary>Builds the model a clm (<paramref name="masked"/> false) or mlm run asks for from <see cref="ModelContext.Pretrained"/>, its weights loaded unless the context says otherwise.</summary>
    public static PretrainedLm Create(ModelContext context, bool masked = false)
    {
        HuggingFaceModelFolder folder = context.Pretrained ?? throw new InvalidOperationException("The run has no Hugging Face folder to start from.");
        HuggingFaceConfig config = folder.Config;
        IPretrainedFamily family = folder.Family;
        PretrainedModels.CheckFits(folder, context.SequenceLength, context.Vocabulary.Size);
        PretrainedLanguageModel module = masked ? family.CreateMaskedLanguageModel(config) : family.CreateCausalLanguageModel(config);
        try
        {
            if (!context.LoadPretrainedWeights)
            {
                return new PretrainedLm(folder, module, new WeightLoadReport([], [], []), $"Hugging Face {config.Describe()} architecture from {folder.Folder}: {module.state_dict().Count} tensors initialised afresh");
            }
            using HuggingFaceWeights weights = folder.OpenWeights();
            WeightLoadReport report = WeightLoading.Load(module, weights, folder.Folder, module.Alternatives);
            bool InHead(string name) => module.HeadPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));
            var body = report.Missing.Where(n => !InHead(n)).ToList();
            if (body.Count > 0)
            {
                throw new InvalidDataException($"{folder.Folder}: the weights lack {body.Count} of the model's tensors ({string.Join(", ", body.Take(3))}{(body.Count > 3 ? ", …" : string.Empty)}); they do not belong to {config.Describe()}.");
            }
            string unused = report.Unused.Count == 0 ? string.Empty : $" ({report.Unused.Count} in the file not used: {string.Join(", ", report.Unused.Take(3))}{(report.Unused.Count > 3 ? ", …" : string.Empty)})";
            string loaded = report.Missing.Count == 0
                ? $"all {report.Loaded.Count} tensors loaded"
                : $"{report.Loaded.Count} of {report.Loaded.Count + report.Missing.Count} tensors loaded, a new language-model head ({report.Missing.Count} tensors: the folder has none)";
            return new PretrainedLm(folder, module, report, $"Hugging Face {config.Describe()} from {folder.Folder}: {loaded}{unused}");
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    public Tensor? ComputeLoss(DeviceBatch batch)
    {
        Tensor? positions = batch.Contains(TaskTensors.PositionIds) ? batch[TaskTensors.PositionIds] : null;
        Tensor? documents = batch.Contains(TaskTensors.DocumentIds) ? batch[TaskTensors.DocumentIds] : null;
        Tensor hidden = _module.Hidden(batch[TaskTensors.InputIds], batch[TaskTensors.AttentionMask], positions, documents);
        return LanguageModelLoss.Compute(hidden, batch[TaskTensors.Labels], _module.Logits);
    }

    public string Export(string output, IReadOnlyDictionary<string, string> metadata) =>
        HuggingFaceExport.Write(_module, Folder.Config, _module.Architecture, output, metadata);

    public void Dispose() => _module.Dispose();
}

/// <summary>Checks every pretrained model makes before it is built.</summary>
public static class PretrainedModels
{
    /// <summary>The run's rows must fit the model's positions, and the tokenizer's ids its embedding.</summary>
    public static void CheckFits(HuggingFaceModelFolder folder, int sequenceLength, int vocabularySize)
    {
        int positions = folder.Family.MaxPositions(folder.Config);
        if (sequenceLength > positions)
        {
            throw new ArgumentException($"{folder.Folder}: --seq-len {sequenceLength} is longer than the model's {positions} positions; use --seq-len {positions} or less.");
        }
        int rows = folder.Family.VocabularySize(folder.Config);
        if (vocabularySize > rows)
        {
            throw new ArgumentException($"{folder.Folder}: the tokenizer has {vocabularySize:N0} ids but the model embeds {rows:N0} (vocab_size); use the folder's own tokenizer (leave out --vocab and --tokenizer).");
        }
    }
}
