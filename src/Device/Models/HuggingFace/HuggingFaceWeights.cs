using System.Text.Json;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A model folder's weights: one <c>model.safetensors</c>, or the shards a <c>model.safetensors.index.json</c> names,
/// each memory-mapped and read a tensor at a time.
/// </summary>
public sealed class HuggingFaceWeights : IDisposable
{
    /// <summary>The single-file name.</summary>
    public const string SingleFile = "model.safetensors";

    /// <summary>The index of a sharded checkpoint.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byName = new(StringComparer.Ordinal);

    private HuggingFaceWeights(List<SafeTensorsFile> files)
    {
        _files = files;
        foreach (SafeTensorsFile file in files)
        {
            foreach (string name in file.Names)
            {
                _byName.TryAdd(name, file);
            }
        }
    }

    /// <summary>Every tensor name, in file order.</summary>
    public IEnumerable<string> Names => _files.SelectMany(f => f.Names);

    /// <summary>Bytes of tensor data over all files.</summary>
    public long DataBytes => _files.Sum(f => f.Header.DataLength);

    /// <summary>True when a weights file is in <paramref name="folder"/>.</summary>
    public static bool ExistIn(string folder) =>
        File.Exists(Path.Combine(folder, SingleFile)) || File.Exists(Path.Combine(folder, IndexFile));

    /// <summary>Opens the weights of <paramref name="folder"/>; a folder with only a pickle checkpoint is an error saying what to do.</summary>
    public static HuggingFaceWeights Open(string folder)
    {
        string single = Path.Combine(folder, SingleFile);
        if (File.Exists(single))
        {
            return new HuggingFaceWeights([SafeTensorsFile.Open(single)]);
        }
        string index = Path.Combine(folder, IndexFile);
        if (File.Exists(index))
        {
            var files = new List<SafeTensorsFile>();
            try
            {
                foreach (string shard in ReadIndex(index))
                {
                    files.Add(SafeTensorsFile.Open(Path.Combine(folder, shard)));
                }
            }
            catch
            {
                files.ForEach(f => f.Dispose());
                throw;
            }
            return new HuggingFaceWeights(files);
        }
        string pickle = File.Exists(Path.Combine(folder, "pytorch_model.bin")) ? " It has pytorch_model.bin, a Python pickle, which is not read (it can run code); convert it with `safetensors.torch.save_file(torch.load(path), \"model.safetensors\")`, or download the model's safetensors files." : string.Empty;
        throw new FileNotFoundException($"{folder}: no {SingleFile} or {IndexFile}.{pickle}", single);
    }

    /// <summary>The shard files a sharded checkpoint's index names, each once, in order of first mention.</summary>
    private static List<string> ReadIndex(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream);
            if (!document.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: expected an object \"weight_map\" of tensor name to shard file.");
            }
            var shards = new List<string>();
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                string shard = entry.Value.GetString() ?? throw new InvalidDataException($"{path}: weight_map[\"{entry.Name}\"] is not a file name.");
                if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                {
                    throw new InvalidDataException($"{path}: weight_map[\"{entry.Name}\"] = \"{shard}\" is not a file name in the folder.");
                }
                if (!shards.Contains(shard))
                {
                    shards.Add(shard);
                }
            }
            return shards;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON at line {ex.LineNumber + 1}: {ex.Message}", ex);
        }
    }

    /// <summary>True when a file holds <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The shape stored for <paramref name="name"/>.</summary>
    public long[] ShapeOf(string name) => Array.ConvertAll(_byName[name].Describe(name).Shape, d => (long)d);

    /// <summary>Reads <paramref name="name"/> into a new CPU tensor, converted to <paramref name="dtype"/> when given.</summary>
    public Tensor Load(string name, ScalarType? dtype = null) =>
        _byName.TryGetValue(name, out SafeTensorsFile? file) ? file.Load(name, dtype) : throw new KeyNotFoundException($"no tensor '{name}' in the folder's weights.");

    public void Dispose() => _files.ForEach(f => f.Dispose());
}
