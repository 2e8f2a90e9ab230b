namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A Hugging Face model folder as downloaded from a model page: <c>config.json</c>, the weights
/// (<see cref="HuggingFaceWeights"/>), and the tokenizer files beside them.
/// </summary>
public sealed class HuggingFaceModelFolder
{
    /// <summary>The configuration file's name.</summary>
    public const string ConfigFile = "config.json";

    private HuggingFaceModelFolder(string folder, HuggingFaceConfig config, IPretrainedFamily family)
    {
        Folder = folder;
        Config = config;
        Family = family;
    }

    /// <summary>The folder.</summary>
    public string Folder { get; }

    /// <summary>Its <c>config.json</c>.</summary>
    public HuggingFaceConfig Config { get; }

    /// <summary>The family that builds its modules.</summary>
    public IPretrainedFamily Family { get; }

    /// <summary>
    /// The folder's tokenizer: <c>tokenizer.json</c> when present (every published tokenizer, read token-exact), else a
    /// BERT <c>vocab.txt</c>; null when it has neither.
    /// </summary>
    public string? TokenizerFile => FindTokenizer(Folder);

    /// <summary>The tokenizer file of <paramref name="folder"/> (tokenizer.json, else vocab.txt), or null.</summary>
    public static string? FindTokenizer(string folder) =>
        new[] { "tokenizer.json", "vocab.txt" }.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);

    /// <summary>True when <paramref name="folder"/> looks like a Hugging Face model folder (a config.json and safetensors weights).</summary>
    public static bool IsModelFolder(string folder) =>
        Directory.Exists(folder) && File.Exists(Path.Combine(folder, ConfigFile)) && HuggingFaceWeights.ExistIn(folder);

    /// <summary>True when <paramref name="folder"/> holds a config.json (an architecture, with or without weights).</summary>
    public static bool HasConfig(string folder) => Directory.Exists(folder) && File.Exists(Path.Combine(folder, ConfigFile));

    /// <summary>Reads the folder's config and checks that a family reads its architecture (an error naming the ones that do otherwise).</summary>
    public static HuggingFaceModelFolder Open(string folder)
    {
        string path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{folder}: no {ConfigFile}; a Hugging Face model folder has one beside its weights.", path);
        }
        HuggingFaceConfig config = HuggingFaceConfig.Read(path);
        return new HuggingFaceModelFolder(folder, config, PretrainedFamilies.For(config));
    }

    /// <summary>Opens the weights (memory-mapped; dispose after loading).</summary>
    public HuggingFaceWeights OpenWeights() => HuggingFaceWeights.Open(Folder);
}
