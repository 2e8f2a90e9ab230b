using System.Globalization;
using System.Text.Json;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>
/// A model folder's <c>config.json</c>, as Hugging Face <c>transformers</c> writes it: the architecture, the model
/// type and the family's own fields, read by name with the library's defaults where a field is absent.
/// </summary>
public sealed class HuggingFaceConfig
{
    private readonly JsonElement _root;

    private HuggingFaceConfig(string path, JsonElement root)
    {
        Path = path;
        _root = root;
        Architecture = root.TryGetProperty("architectures", out JsonElement list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0
            ? list[0].GetString() ?? string.Empty
            : string.Empty;
        ModelType = GetString("model_type") ?? string.Empty;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The first of <c>architectures</c> ("BertForSequenceClassification"); empty when the file names none.</summary>
    public string Architecture { get; }

    /// <summary><c>model_type</c> ("bert", "roberta", "gpt2", "llama").</summary>
    public string ModelType { get; }

    /// <summary>The label names by id from <c>id2label</c>; null when the file has none.</summary>
    public IReadOnlyList<string>? Labels
    {
        get
        {
            if (!_root.TryGetProperty("id2label", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var byId = new SortedDictionary<int, string>();
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidDataException($"{Path}: id2label entry \"{entry.Name}\" is not an id mapped to a name.");
                }
                byId[id] = entry.Value.GetString()!;
            }
            if (byId.Count == 0 || byId.Keys.First() != 0 || byId.Keys.Last() != byId.Count - 1)
            {
                throw new InvalidDataException($"{Path}: id2label must number its labels 0 to n-1; it has ids {string.Join(", ", byId.Keys.Take(10))}.");
            }
            return [.. byId.Values];
        }
    }

    /// <summary><c>problem_type</c> ("single_label_classification", "multi_label_classification"); null when absent.</summary>
    public string? ProblemType => GetString("problem_type");

    /// <summary>Reads <paramref name="path"/>; a file that is not a JSON object is one error naming it.</summary>
    public static HuggingFaceConfig Read(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: expected a JSON object, found {document.RootElement.ValueKind}.");
            }
            return new HuggingFaceConfig(path, document.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}: {ex.Message}", ex);
        }
    }

    /// <summary>True when the file has <paramref name="name"/> (and it is not null).</summary>
    public bool Has(string name) => _root.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>An integer field; <paramref name="fallback"/> when absent; an error naming the field when required and absent.</summary>
    public int GetInt(string name, int? fallback = null)
    {
        if (_root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number))
        {
            return number;
        }
        return fallback ?? throw new InvalidDataException($"{Path}: \"{name}\" is required for {Describe()} and must be an integer.");
    }

    /// <summary>A number field; <paramref name="fallback"/> when absent.</summary>
    public double GetDouble(string name, double? fallback = null)
    {
        if (_root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number)
        {
            return value.GetDouble();
        }
        return fallback ?? throw new InvalidDataException($"{Path}: \"{name}\" is required for {Describe()} and must be a number.");
    }

    /// <summary>A string field, or null.</summary>
    public string? GetString(string name) =>
        _root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>An object field (a copy), or null when absent or null.</summary>
    public JsonElement? GetObject(string name) =>
        _root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Object ? value.Clone() : null;

    /// <summary>A boolean field; <paramref name="fallback"/> when absent.</summary>
    public bool GetBool(string name, bool fallback) =>
        _root.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;

    /// <summary>
    /// Writes this configuration as the model <paramref name="architecture"/>'s (its <c>architectures</c> field), with
    /// <paramref name="edit"/>'s changes; every other field as read.
    /// </summary>
    public void Write(string path, string architecture, Action<System.Text.Json.Nodes.JsonObject>? edit = null)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(_root.GetRawText())!.AsObject();
        root["architectures"] = new System.Text.Json.Nodes.JsonArray(architecture);
        edit?.Invoke(root);
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Sets a classifier configuration's <c>id2label</c>, <c>label2id</c> and <c>problem_type</c>.</summary>
    public static void SetLabels(System.Text.Json.Nodes.JsonObject root, IReadOnlyList<string> labels, bool multiLabel)
    {
        var id2label = new System.Text.Json.Nodes.JsonObject();
        var label2id = new System.Text.Json.Nodes.JsonObject();
        for (int i = 0; i < labels.Count; i++)
        {
            id2label[i.ToString(CultureInfo.InvariantCulture)] = labels[i];
            label2id[labels[i]] = i;
        }
        root["id2label"] = id2label;
        root["label2id"] = label2id;
        root["problem_type"] = multiLabel ? "multi_label_classification" : "single_label_classification";
    }

    /// <summary>The architecture and model type, for messages.</summary>
    public string Describe() => Architecture.Length > 0 ? $"{Architecture} ({ModelType})" : $"model type '{ModelType}'";
}
