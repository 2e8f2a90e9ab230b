using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>A task model built from a Hugging Face model folder (<see cref="Training.ModelContext.Pretrained"/>).</summary>
public interface IPretrainedModel
{
    /// <summary>One line for the run's log and report: the architecture, the folder, what was loaded and what is new.</summary>
    string Description { get; }

    /// <summary>The folder it was built from.</summary>
    HuggingFaceModelFolder Folder { get; }

    /// <summary>
    /// Writes the model into <paramref name="output"/> as a Hugging Face folder's <c>config.json</c> (the source
    /// folder's, naming this model's architecture) and <c>model.safetensors</c> under transformers' names, with
    /// <paramref name="metadata"/> in its header; the tokenizer files are the caller's. Returns what was written, for the report.
    /// </summary>
    string Export(string output, IReadOnlyDictionary<string, string> metadata);
}

/// <summary>What every <see cref="IPretrainedModel.Export"/> does.</summary>
public static class HuggingFaceExport
{
    /// <summary>Writes <paramref name="module"/>'s tensors and <paramref name="config"/> as <paramref name="architecture"/>'s (with <paramref name="editConfig"/>'s changes) into <paramref name="output"/>.</summary>
    public static string Write(nn.Module module, HuggingFaceConfig config, string architecture, string output, IReadOnlyDictionary<string, string> metadata, Action<System.Text.Json.Nodes.JsonObject>? editConfig = null)
    {
        Directory.CreateDirectory(output);
        var tensors = module.state_dict();
        SafeTensorsWriter.Write(Path.Combine(output, HuggingFaceWeights.SingleFile), tensors, metadata);
        config.Write(Path.Combine(output, HuggingFaceModelFolder.ConfigFile), architecture, editConfig);
        return $"{architecture}, {tensors.Count} tensors";
    }
}
