using System.CommandLine;
using System.Globalization;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using TorchSharp;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// <c>streamloader export-hf</c>: writes a checkpoint fine-tuned from a Hugging Face folder as a Hugging Face folder
/// again (<c>config.json</c> with the run's labels, <c>model.safetensors</c>, the tokenizer files), so Python's
/// <c>transformers</c> — or <c>streamloader infer --checkpoint</c> — loads what StreamLoader trained.
/// </summary>
internal static class ExportCommand
{
    private static readonly Option<string> CheckpointOption = new("--checkpoint", "-c") { Description = "The classify or multilabel checkpoint to export (a run folder, or runs/<task> for its latest); it must have been built from a Hugging Face folder (--init-from DIR or --model DIR).", HelpName = "DIR", Required = true };
    private static readonly Option<string> OutputOption = new("--output", "-o") { Description = "The folder to write (created; files already there are replaced).", HelpName = "DIR", Required = true };

    public static Command Create()
    {
        var command = new Command("export-hf", "Write a classify or multilabel checkpoint built from a Hugging Face model folder (--init-from DIR, or --model DIR) as a Hugging Face folder: config.json (the folder's, with the architecture's classification head, the run's labels as id2label and its problem_type), model.safetensors and the tokenizer files. " +
            "That is the layout transformers' AutoModelForSequenceClassification.from_pretrained reads; 'streamloader infer --checkpoint' reads it too.\n\n" +
            "Examples:\n" +
            "  streamloader export-hf --checkpoint runs/classify --output my-classifier\n" +
            "  streamloader infer --checkpoint my-classifier --source docs.jsonl --output preds.jsonl");
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
        string folder = CheckpointManifest.Resolve(checkpoint);
        CheckpointManifest manifest = CheckpointManifest.Load(folder);
        IReadOnlyDictionary<string, string[]> settings = manifest.ReadSettings(folder);
        string? architectureFolder = new[] { CliOptions.InitFrom.Name, CliOptions.Model.Name }
            .Select(o => settings.TryGetValue(o, out string[]? v) && v.Length == 1 ? v[0] : null)
            .FirstOrDefault(v => v is not null && HuggingFaceModelFolder.HasConfig(v));
        if (architectureFolder is null)
        {
            throw new ArgumentException($"--checkpoint {folder}: its model was not built from a Hugging Face folder (--init-from DIR or --model DIR), so its tensors have StreamLoader's own names; export-hf writes {string.Join(", ", PretrainedFamilies.All.SelectMany(f => f.Architectures))} fine-tuned by StreamLoader.");
        }
        if (manifest.LabelNames is not { Count: > 0 } labels)
        {
            throw new ArgumentException($"--checkpoint {folder}: a {manifest.Task} checkpoint has no labels; export-hf writes classify and multilabel checkpoints.");
        }
        HuggingFaceModelFolder source = HuggingFaceModelFolder.Open(architectureFolder);
        int sequenceLength = settings.TryGetValue(CliOptions.SeqLen.Name, out string[]? length) && int.TryParse(length.FirstOrDefault(), CultureInfo.InvariantCulture, out int n) ? n : new BatcherRunSettings().SequenceLength;
        bool multiLabel = manifest.Task == "multilabel";
        string tokenizer = TokenizerFile(settings, source);

        TorchRuntime.EnsureLoaded();
        using PretrainedClassifier model = PretrainedClassifier.Create(source, labels, multiLabel, 0.5, sequenceLength, manifest.VocabularySize, loadWeights: false);
        model.Module.load(Path.Combine(folder, TrainingState.ModelFile));
        Directory.CreateDirectory(output);
        var tensors = model.Module.state_dict();
        SafeTensorsWriter.Write(Path.Combine(output, HuggingFaceWeights.SingleFile), tensors, new Dictionary<string, string> { ["format"] = "pt", ["exported_by"] = "streamloader", ["checkpoint_steps"] = manifest.Steps.ToString(CultureInfo.InvariantCulture) });
        var architecture = ((PretrainedSequenceClassifier)model.Module).Architecture;
        source.Config.WriteForClassifier(Path.Combine(output, HuggingFaceModelFolder.ConfigFile), architecture, labels, multiLabel);
        var copied = new List<string> { Path.GetFileName(tokenizer) };
        File.Copy(tokenizer, Path.Combine(output, Path.GetFileName(tokenizer)), overwrite: true);
        foreach (string extra in new[] { "tokenizer_config.json", "special_tokens_map.json" }.Where(f => File.Exists(Path.Combine(source.Folder, f))))
        {
            File.Copy(Path.Combine(source.Folder, extra), Path.Combine(output, extra), overwrite: true);
            copied.Add(extra);
        }
        return $"{output}: {architecture} ({labels.Count} labels, {(multiLabel ? "multi_label_classification" : "single_label_classification")}), {tensors.Count} tensors from {folder} (step {manifest.Steps:N0}); config.json, model.safetensors, {string.Join(", ", copied)}";
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
