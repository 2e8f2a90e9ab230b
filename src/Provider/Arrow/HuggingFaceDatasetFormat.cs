using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Arrow;

/// <summary>
/// A Hugging Face <c>datasets</c> folder written by <c>save_to_disk</c>: <c>state.json</c> lists the Arrow files in
/// order, <c>dataset_info.json</c> gives the features (ClassLabel ids are mapped to their names). A <c>DatasetDict</c>
/// folder (<c>dataset_dict.json</c>) holds one such folder per split; <c>--split</c> picks one.
/// </summary>
public sealed class HuggingFaceDatasetFormat : ISourceFormat
{
    private static readonly SourceOptionInfo s_split = new("split", "name", "Hugging Face DatasetDict folder: the split to read.", "train");

    public string Name => "hf";

    public IReadOnlyList<string> Aliases => ["huggingface", "datasets"];

    public string Summary => "Hugging Face save_to_disk folder (state.json, dataset_info.json, *.arrow) or DatasetDict folder";

    public IReadOnlyList<SourceOptionInfo> Options => [s_split];

    public SniffResult Sniff(SourceProbe probe) =>
        probe.IsDirectory && (File.Exists(Path.Combine(probe.Location, "state.json")) || File.Exists(Path.Combine(probe.Location, "dataset_dict.json")))
            ? SniffResult.Certain
            : SniffResult.No;

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null)
    {
        string folder = location;
        string dictionary = Path.Combine(location, "dataset_dict.json");
        if (File.Exists(dictionary))
        {
            string split = settings.Option(s_split)!;
            List<string> splits = ReadSplits(dictionary);
            if (!splits.Contains(split, StringComparer.Ordinal))
            {
                throw new SourceFormatException(dictionary, "splits", $"there is no split '{split}'; the splits are: {string.Join(", ", splits)}. Choose with --split.");
            }
            folder = Path.Combine(location, split);
        }
        string state = Path.Combine(folder, "state.json");
        if (!File.Exists(state))
        {
            throw new SourceFormatException(folder, "state.json", "a save_to_disk folder needs state.json (which lists its Arrow files), and there is none.");
        }
        List<string> files = ReadDataFiles(state).Select(f => Path.Combine(folder, f)).ToList();
        IReadOnlyDictionary<string, IReadOnlyList<string>> labelNames = ReadClassLabels(Path.Combine(folder, "dataset_info.json"));
        var options = new ArrowOptions { Columns = settings.Columns, LabelNames = labelNames, Lines = settings.Lines, Http = settings.Http };
        if (files.Count == 1)
        {
            return new ArrowDocumentReader(files[0], options, http, statistics);
        }
        return new FileSetSource(files, (file, parent) => new ArrowDocumentReader(file, options, http, parent), $"hf|{settings.Columns}", statistics);
    }

    private static List<string> ReadSplits(string path)
    {
        using JsonDocument json = Parse(path);
        return json.RootElement.TryGetProperty("splits", out JsonElement splits) && splits.ValueKind == JsonValueKind.Array
            ? splits.EnumerateArray().Select(s => s.GetString() ?? string.Empty).ToList()
            : throw new SourceFormatException(path, "splits", "expected {\"splits\": [\"train\", ...]}.");
    }

    private static List<string> ReadDataFiles(string path)
    {
        using JsonDocument json = Parse(path);
        if (!json.RootElement.TryGetProperty("_data_files", out JsonElement files) || files.ValueKind != JsonValueKind.Array || files.GetArrayLength() == 0)
        {
            throw new SourceFormatException(path, "_data_files", "expected \"_data_files\": [{\"filename\": \"data-00000-of-00001.arrow\"}, ...].");
        }
        return files.EnumerateArray().Select(f => f.TryGetProperty("filename", out JsonElement name) && name.GetString() is { Length: > 0 } n
            ? n
            : throw new SourceFormatException(path, "_data_files", "an entry has no \"filename\".")).ToList();
    }

    /// <summary>ClassLabel names by column, from <c>features</c> (also a Sequence or List of ClassLabel).</summary>
    private static Dictionary<string, IReadOnlyList<string>> ReadClassLabels(string path)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return result;
        }
        using JsonDocument json = Parse(path);
        if (!json.RootElement.TryGetProperty("features", out JsonElement features) || features.ValueKind != JsonValueKind.Object)
        {
            return result;
        }
        foreach (JsonProperty feature in features.EnumerateObject())
        {
            if (ClassNames(feature.Value) is { } names)
            {
                result[feature.Name] = names;
            }
        }
        return result;
    }

    private static IReadOnlyList<string>? ClassNames(JsonElement feature)
    {
        if (feature.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        string? type = feature.TryGetProperty("_type", out JsonElement t) ? t.GetString() : null;
        if (type == "ClassLabel" && feature.TryGetProperty("names", out JsonElement names) && names.ValueKind == JsonValueKind.Array)
        {
            return names.EnumerateArray().Select(n => n.GetString() ?? string.Empty).ToList();
        }
        if (type is "Sequence" or "List" or "LargeList" && feature.TryGetProperty("feature", out JsonElement inner))
        {
            return ClassNames(inner);
        }
        return null;
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new SourceFormatException(path, $"line {ex.LineNumber + 1}", $"not valid JSON ({ex.Message})", ex);
        }
    }
}
