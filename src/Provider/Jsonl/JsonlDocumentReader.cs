using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Jsonl;

/// <summary>Settings for <see cref="JsonlDocumentReader"/>.</summary>
public sealed record JsonlOptions
{
    /// <summary>Fields holding the text, joined with a space when there are several.</summary>
    public IReadOnlyList<string> TextFields { get; init; } = ["text"];

    /// <summary>Field holding the id; when absent a record's id is its line number.</summary>
    public string IdField { get; init; } = "id";

    /// <summary>Field holding labels: a string, a number, or an array of them. Null to ignore labels.</summary>
    public string? LabelField { get; init; } = "label";

    /// <summary>Fields copied into each document's metadata: strings as they are, other values as their JSON text.</summary>
    public IReadOnlyList<string> KeepFields { get; init; } = [];

    /// <summary>Line handling shared with other readers.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>Streams JSON Lines (<c>{"id":…,"text":…}</c> per line), plain or gzip, from disk or over HTTP(S).</summary>
/// <remarks>Records without the text field, with empty text, or that are malformed are skipped and counted by reason.</remarks>
public sealed class JsonlDocumentReader : JsonLineSource<JsonlRecord>
{
    private readonly JsonlOptions _options;
    private readonly byte[][] _textFields;
    private readonly byte[] _idField;
    private readonly byte[]? _labelField;
    private readonly byte[][] _keepFields;

    public JsonlDocumentReader(string location, JsonlOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
        : base(location, http, (options ??= new JsonlOptions()).Http, options.Lines, statistics, "JSON Lines", input => $"jsonl|{input}|text={string.Join('+', options.TextFields)}|id={options.IdField}")
    {
        _options = options;
        ArgumentOutOfRangeException.ThrowIfZero(_options.TextFields.Count);
        _textFields = _options.TextFields.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        _idField = System.Text.Encoding.UTF8.GetBytes(_options.IdField);
        _labelField = _options.LabelField is null ? null : System.Text.Encoding.UTF8.GetBytes(_options.LabelField);
        _keepFields = _options.KeepFields.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
    }

    public override string Description => $"jsonl:{Location}";

    // JSON Lines records stand alone: one reading serves every read.
    private protected override LineReading StartReading() => _reading ??= new Records(this);

    private Records? _reading;

    private sealed class Records(JsonlDocumentReader reader) : LineReading
    {
        public override Document? Apply(in LineRecord line, ref JsonlRecord parsed) => reader.Apply(line, ref parsed);
    }

    private Document? Apply(in LineRecord line, ref JsonlRecord parsed)
    {
        if (parsed.Text is not { } text)
        {
            line.Bad.Bad("missing_text_field", line.Number, line.Offset, $"the object has no string field {string.Join(" or ", _options.TextFields.Select(f => $"'{f}'"))}; its fields are: {FieldNames(line.Bytes)} (choose with --text-column)");
            return null;
        }
        line.Bad.Good();
        string id = parsed.Id ?? line.Number.ToString(CultureInfo.InvariantCulture);
        if (string.IsNullOrWhiteSpace(text) && !_options.Lines.KeepEmptyText)
        {
            Statistics.AddSkip("empty_text", $"{Location}: line {line.Number}: record {id} has empty text");
            return null;
        }
        Statistics.AddYielded();
        return new Document(id, text) { Labels = parsed.Labels, Metadata = parsed.Kept, SourceOffset = line.IsSeekable ? line.Offset : -1, SourceLine = line.Number };
    }

    private protected override JsonlRecord Parse(ReadOnlySpan<byte> line, JsonStringDecoder strings)
    {
        var reader = new Utf8JsonReader(line);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("expected a JSON object");
        }
        string? id = null;
        string? text = null;
        string?[]? parts = _textFields.Length > 1 ? new string?[_textFields.Length] : null;
        List<string>? labels = null;
        Dictionary<string, string>? kept = _keepFields.Length > 0 ? new(_keepFields.Length, StringComparer.Ordinal) : null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (kept is not null && KeepFieldIndex(ref reader) is >= 0 and int keep)
            {
                // A copy of the reader reads the value ahead; the original goes on to read it as text, id or label too.
                Utf8JsonReader ahead = reader;
                ahead.Read();
                if (RawText(ref ahead, line) is { } value)
                {
                    kept[_options.KeepFields[keep]] = value;
                }
            }
            int field = TextFieldIndex(ref reader);
            if (field >= 0)
            {
                reader.Read();
                string? value = reader.TokenType == JsonTokenType.String ? strings.GetString(ref reader) : null;
                if (parts is null)
                {
                    text = value;
                }
                else
                {
                    parts[field] = value;
                }
            }
            else if (reader.ValueTextEquals(_idField))
            {
                reader.Read();
                id = ScalarText(ref reader);
            }
            else if (_labelField is not null && reader.ValueTextEquals(_labelField))
            {
                reader.Read();
                labels = [];
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (ScalarText(ref reader) is { } label)
                        {
                            labels.Add(label);
                        }
                    }
                }
                else if (ScalarText(ref reader) is { } label)
                {
                    labels.Add(label);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.BytesConsumed < line.Length && !line[(int)reader.BytesConsumed..].Trim(" \t\r"u8).IsEmpty)
        {
            throw new JsonException($"unexpected data after the object at byte {reader.BytesConsumed}");
        }
        if (parts is not null && parts.Any(p => p is not null))
        {
            text = string.Join(' ', parts.Where(p => !string.IsNullOrEmpty(p)));
        }
        return new JsonlRecord(id, text, labels, kept);
    }

    private int KeepFieldIndex(ref Utf8JsonReader reader)
    {
        for (int i = 0; i < _keepFields.Length; i++)
        {
            if (reader.ValueTextEquals(_keepFields[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>A value as text: a string as it is, null as null, anything else (numbers, arrays, objects) as its JSON.</summary>
    private static string? RawText(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartArray or JsonTokenType.StartObject:
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                return System.Text.Encoding.UTF8.GetString(line[start..(int)reader.BytesConsumed]);
            default:
                return System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    /// <summary>The top-level field names of a JSON object line, for an error message.</summary>
    private static string FieldNames(ReadOnlySpan<byte> line)
    {
        var names = new List<string>();
        var reader = new Utf8JsonReader(line);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            names.Add($"'{reader.GetString()}'");
            reader.Read();
            reader.Skip();
        }
        return names.Count == 0 ? "(none)" : string.Join(", ", names);
    }

    private int TextFieldIndex(ref Utf8JsonReader reader)
    {
        for (int i = 0; i < _textFields.Length; i++)
        {
            if (reader.ValueTextEquals(_textFields[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static string? ScalarText(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Number:
                return System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
            case JsonTokenType.True:
                return "true";
            case JsonTokenType.False:
                return "false";
            case JsonTokenType.Null:
                return null;
            default:
                reader.Skip();
                return null;
        }
    }
}

/// <summary>One JSON Lines record as a decode worker reads it: the id, the text, labels and kept fields, each null when absent.</summary>
public readonly record struct JsonlRecord(string? Id, string? Text, List<string>? Labels, Dictionary<string, string>? Kept);
