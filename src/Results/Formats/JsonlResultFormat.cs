using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Storage;

namespace StreamLoader.Results.Formats;

/// <summary>
/// JSON Lines: one object per row, <c>probabilities</c> an object of label name → probability (float32, written
/// shortest round-trip), nulls written as null. pandas (<c>read_json(lines=True)</c>) and Hugging Face
/// <c>load_dataset("json")</c> read it.
/// </summary>
public sealed class JsonlResultFormat : IResultFormat
{
    public string Name => "jsonl";

    public IReadOnlyList<string> Extensions { get; } = [".jsonl", ".ndjson"];

    public IResultFileWriter Create(string path, ResultSchema schema) => new Writer(path, schema);

    public async IAsyncEnumerable<ResultRow> ReadAsync(string path, ResultSchema schema, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        long line = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } text)
        {
            line++;
            if (text.Length == 0)
            {
                continue;
            }
            ResultRow row;
            try
            {
                row = Parse(Encoding.UTF8.GetBytes(text), schema);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                throw new InvalidDataException($"{path}: line {line}: not a result row ({ex.Message}).", ex);
            }
            yield return row;
        }
    }

    private static ResultRow Parse(ReadOnlySpan<byte> line, ResultSchema schema)
    {
        var reader = new Utf8JsonReader(line);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("expected an object");
        }
        string? id = null, status = null, source = null, label = null;
        string[]? labels = null;
        float[]? probabilities = null;
        var kept = new string?[schema.KeepColumns.Count];
        int tokens = 0, part = 0;
        long ordinal = 0;
        long? sourceLine = null, offset = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "id": id = reader.GetString(); break;
                case "label": label = reader.TokenType == JsonTokenType.Null ? null : reader.GetString(); break;
                case "labels":
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        var list = new List<string>();
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            list.Add(reader.GetString()!);
                        }
                        labels = [.. list];
                    }
                    break;
                case "probabilities":
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        probabilities = new float[schema.LabelNames.Count];
                        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                        {
                            int index = IndexOf(schema.LabelNames, reader.GetString()!);
                            reader.Read();
                            probabilities[index] = reader.GetSingle();
                        }
                    }
                    break;
                case "status": status = reader.GetString(); break;
                case "tokens": tokens = reader.GetInt32(); break;
                case "source": source = reader.GetString(); break;
                case "source_part": part = reader.GetInt32(); break;
                case "source_ordinal": ordinal = reader.GetInt64(); break;
                case "source_line": sourceLine = reader.TokenType == JsonTokenType.Null ? null : reader.GetInt64(); break;
                case "source_offset": offset = reader.TokenType == JsonTokenType.Null ? null : reader.GetInt64(); break;
                case "model_hash" or "tokenizer_hash": break;
                default:
                    int keep = IndexOf(schema.KeepColumns, name);
                    kept[keep] = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
                    break;
            }
        }
        return new ResultRow
        {
            Id = id ?? throw new JsonException("no id"),
            Kept = kept,
            Status = status ?? throw new JsonException("no status"),
            Label = label,
            Labels = labels,
            Probabilities = probabilities,
            Tokens = tokens,
            Source = source ?? string.Empty,
            Position = new SourcePosition(part, ordinal),
            Line = sourceLine,
            Offset = offset,
        };
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }
        throw new KeyNotFoundException($"unexpected field '{name}'");
    }

    private sealed class Writer : IResultFileWriter
    {
        private readonly OutputFileStream _file;
        private readonly Utf8JsonWriter _json;
        private readonly ResultSchema _schema;
        private readonly JsonEncodedText[] _kept;
        private readonly JsonEncodedText[] _labels;

        public Writer(string path, ResultSchema schema)
        {
            _schema = schema;
            _file = OutputFileStream.Create(path, 1 << 16);
            _json = new Utf8JsonWriter(_file, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
            _kept = schema.KeepColumns.Select(c => JsonEncodedText.Encode(c)).ToArray();
            _labels = schema.LabelNames.Select(c => JsonEncodedText.Encode(c)).ToArray();
        }

        public async ValueTask WriteAsync(IReadOnlyList<ResultRow> rows, CancellationToken cancellationToken = default)
        {
            foreach (ResultRow row in rows)
            {
                WriteRow(row);
                await _json.FlushAsync(cancellationToken).ConfigureAwait(false);
                _file.WriteByte((byte)'\n');
                _json.Reset();
            }
        }

        private void WriteRow(ResultRow row)
        {
            Utf8JsonWriter json = _json;
            json.WriteStartObject();
            json.WriteString("id", row.Id);
            for (int i = 0; i < _kept.Length; i++)
            {
                if (row.Kept[i] is { } value)
                {
                    json.WriteString(_kept[i], value);
                }
                else
                {
                    json.WriteNull(_kept[i]);
                }
            }
            if (_schema.MultiLabel)
            {
                if (row.Labels is { } labels)
                {
                    json.WriteStartArray("labels");
                    foreach (string label in labels)
                    {
                        json.WriteStringValue(label);
                    }
                    json.WriteEndArray();
                }
                else
                {
                    json.WriteNull("labels");
                }
            }
            else if (row.Label is { } label)
            {
                json.WriteString("label", label);
            }
            else
            {
                json.WriteNull("label");
            }
            if (row.Probabilities is { } probabilities)
            {
                json.WriteStartObject("probabilities");
                for (int i = 0; i < _labels.Length; i++)
                {
                    json.WriteNumber(_labels[i], probabilities[i]);
                }
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("probabilities");
            }
            json.WriteString("status", row.Status);
            json.WriteNumber("tokens", row.Tokens);
            json.WriteString("source", row.Source);
            json.WriteNumber("source_part", row.Position.Part);
            json.WriteNumber("source_ordinal", row.Position.Ordinal);
            WriteNullable(json, "source_line", row.Line);
            WriteNullable(json, "source_offset", row.Offset);
            json.WriteString("model_hash", _schema.ModelHash);
            json.WriteString("tokenizer_hash", _schema.TokenizerHash);
            json.WriteEndObject();
        }

        private static void WriteNullable(Utf8JsonWriter json, string name, long? value)
        {
            if (value is long v)
            {
                json.WriteNumber(name, v);
            }
            else
            {
                json.WriteNull(name);
            }
        }

        public async ValueTask CompleteAsync(CancellationToken cancellationToken = default)
        {
            await _json.FlushAsync(cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            _file.Flush(flushToDisk: true);
        }

        public async ValueTask DisposeAsync()
        {
            await _json.DisposeAsync().ConfigureAwait(false);
            await _file.DisposeAsync().ConfigureAwait(false);
        }
    }
}
