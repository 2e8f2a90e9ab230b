using System.CommandLine;
using System.Globalization;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using TorchSharp;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// <c>streamloader export-hf</c>: writes a checkpoint trained from a Hugging Face folder as a Hugging Face folder
/// again (<c>config.json</c> naming the trained architecture, with a classifier's labels; <c>model.safetensors</c>; the
/// tokenizer files), so Python's <c>transformers</c> — or <c>streamloader</c> itself — loads what StreamLoader trained.
/// </summary>
internal static class ExportCommand
{
    private static readonly Option<string> CheckpointOption = new("--checkpoint", "-c") { Description = "The checkpoint to export (a run folder, or runs/<task> for its latest): a classify, multilabel, mlm or clm run built from a Hugging Face folder (--init-from DIR or --model DIR).", HelpName = "DIR", Required = true };
    private static readonly Option<string> OutputOption = new("--output", "-o") { Description = "The folder to write (created; files already there are replaced).", HelpName = "DIR", Required = true };

    public static Command Create()
    {
        var command = new Command("export-hf", "Write a checkpoint built from a Hugging Face model folder (--init-from DIR, or --model DIR) as a Hugging Face folder: config.json (the folder's, naming the trained architecture), model.safetensors under transformers' names, and the tokenizer files. " +
            "A classify or multilabel run becomes …ForSequenceClassification with the run's labels as id2label and its problem_type (transformers' AutoModelForSequenceClassification reads it, and so does 'streamloader infer --checkpoint'); " +
            "an mlm run becomes BertForMaskedLM, a clm run GPT2LMHeadModel or LlamaForCausalLM (AutoModelForMaskedLM / AutoModelForCausalLM; '--init-from' continues from it).\n\n" +
            "Examples:\n" +
            "  streamloader export-hf --checkpoint runs/classify --output my-classifier\n" +
            "  streamloader infer --checkpoint my-classifier --source docs.jsonl --output preds.jsonl\n" +
            "  streamloader export-hf --checkpoint runs/clm --output my-gpt2");
        command.Options.Add(CheckpointOption);
        command.Options.Add(OutputOption);
        command.SetAction(result =>
        {
            try
            {
                Console.Out.WriteLine(Export(result.GetValue(CheckpointOption)!, result.GetValue(OutputOption)!));
                return ExitCodes.Success;
            }
            catch (Exception ex)
            {
                return CommandErrors.Report(ex);
            }
        });
        return command;
    }

    /// <summary>Exports <paramref name="checkpoint"/> into <paramref name="output"/>; returns the line that says what was written.</summary>
    public static string Export(string checkpoint, string output)
    {
        string folder = CheckpointFolders.Resolve(checkpoint);
        CheckpointManifest manifest = CheckpointManifest.Load(folder);
        IReadOnlyDictionary<string, string[]> settings = manifest.ReadSettings(folder);
        string? architectureFolder = new[] { CliOptions.InitFrom.Name, CliOptions.Model.Name }
            .Select(o => settings.TryGetValue(o, out string[]? v) && v.Length == 1 ? v[0] : null)
            .FirstOrDefault(v => v is not null && HuggingFaceModelFolder.HasConfig(v));
        if (architectureFolder is null)
        {
            throw new ArgumentException($"--checkpoint {folder}: its model was not built from a Hugging Face folder (--init-from DIR or --model DIR), so its tensors have StreamLoader's own names; export-hf writes {string.Join(", ", PretrainedFamilies.All.SelectMany(f => f.Architectures))} fine-tuned by StreamLoader.");
        }
        if (!TaskPlugins.Devices.TryGet(manifest.Task, out IDeviceTask task))
        {
            throw new ArgumentException($"--checkpoint {folder}: its task '{manifest.Task}' has no model to export.");
        }
        HuggingFaceModelFolder source = HuggingFaceModelFolder.Open(architectureFolder);
        int sequenceLength = settings.TryGetValue(CliOptions.SeqLen.Name, out string[]? length) && int.TryParse(length.FirstOrDefault(), CultureInfo.InvariantCulture, out int n) ? n : new BatcherRunSettings().SequenceLength;
        string tokenizer = TokenizerFile(settings, source);

        // The model the task built for the run, from the folder's architecture, with the checkpoint's weights over it:
        // which head it has (a classifier's, a language model's) is the task's business, not this command's.
        TorchRuntime.EnsureLoaded();
        var vocabulary = new VocabularyInfo(manifest.Tokenizer, manifest.VocabularySize, new SpecialTokens(0, 0, 0, 0, 0));
        using ITaskModel model = new ModelContext(vocabulary, sequenceLength, new DeviceRunSettings().ModelSize, torch.CPU, 0, TaskSettings.Empty)
        {
            Labels = manifest.LabelNames is { Count: > 0 } labels ? new LabelSet(labels) : null,
            Pretrained = source,
            LoadPretrainedWeights = false,
        }.Build(task);
        if (model is not IPretrainedModel pretrained)
        {
            throw new ArgumentException($"--checkpoint {folder}: task '{manifest.Task}' does not build its model from a Hugging Face folder, so there is nothing to export.");
        }
        model.Module.load(Path.Combine(folder, TrainingState.ModelFile));
        string written = pretrained.Export(output, new Dictionary<string, string> { ["format"] = "pt", ["exported_by"] = "streamloader", ["task"] = manifest.Task, ["checkpoint_steps"] = manifest.Steps.ToString(CultureInfo.InvariantCulture) });
        var copied = new List<string> { Path.GetFileName(tokenizer) };
        File.Copy(tokenizer, Path.Combine(output, Path.GetFileName(tokenizer)), overwrite: true);
        foreach (string extra in new[] { "tokenizer_config.json", "special_tokens_map.json" }.Where(f => File.Exists(Path.Combine(source.Folder, f))))
        {
            File.Copy(Path.Combine(source.Folder, extra), Path.Combine(output, extra), overwrite: true);
            copied.Add(extra);
        }
        return $"{output}: {written} from {folder} ({manifest.Task}, step {manifest.Steps:N0}); config.json, model.safetensors, {string.Join(", ", copied)}";
    }

    /// <summary>The tokenizer file the run used: --tokenizer or --vocab as recorded, else the source folder's own.</summary>
    private static string TokenizerFile(IReadOnlyDictionary<string, string[]> settings, HuggingFaceModelFolder source)
    {
        foreach (string option in new[] { CliOptions.Tokenizer.Name, CliOptions.Vocab.Name })
        {
            if (settings.TryGetValue(option, out string[]? values) && values.FirstOrDefault() is { } path && File.Exists(path))
            {
                return path;
            }
        }
        return source.TokenizerFile ?? throw new ArgumentException($"{source.Folder}: no tokenizer.json or vocab.txt to export with the model.");
    }
}
