using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Wikipedia;

/// <summary>Settings for <see cref="CirrusSearchDumpReader"/>.</summary>
public sealed record CirrusSearchOptions
{
    /// <summary>Namespaces to keep; articles are namespace 0.</summary>
    public IReadOnlySet<int> Namespaces { get; init; } = new HashSet<int> { 0 };

    /// <summary>Line handling shared with other readers.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>
/// Streams a Wikipedia CirrusSearch content dump (<c>*.json.gz</c> or plain <c>.json</c>, from disk or over HTTP(S)):
/// Elasticsearch bulk format, an action line (<c>{"index":{"_id":"12"}}</c>) then a document line.
/// </summary>
/// <remarks>
/// Keeps pages in the configured namespaces (0 by default) and takes the text from <c>text</c>, the id from the action
/// line's <c>_id</c> or else the document's <c>page_id</c>. Pages outside the namespaces, pages with empty text, and
/// malformed, invalid-UTF-8 or oversized lines are skipped and counted by reason.
/// </remarks>
public sealed class CirrusSearchDumpReader : JsonLineSource<CirrusLine>
{
    private readonly CirrusSearchOptions _options;

    public CirrusSearchDumpReader(string location, CirrusSearchOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
        : base(location, http, (options ??= new CirrusSearchOptions()).Http, options.Lines, statistics, "a CirrusSearch dump", input => $"cirrussearch|{input}|ns={string.Join(',', options.Namespaces.Order())}")
    {
        _options = options;
    }

    public override string Description => $"cirrussearch:{Location}";

    private protected override LineReading StartReading() => new Pages(this);

    /// <summary>One read's pairing of action and page lines.</summary>
    private sealed class Pages(CirrusSearchDumpReader reader) : LineReading
    {
        // The page being read: its action line's id, and where that line began, so a resume seeks to the pair, not to half of it.
        private string? _pendingId;
        private (long Offset, long Line) _pageStart = (-1, 0);

        public override void SkippedLine() => _pendingId = null;

        public override Document? Apply(in LineRecord line, ref CirrusLine parsed)
        {
            if (parsed.IsAction)
            {
                _pendingId = parsed.ActionId;
                _pageStart = (line.Offset, line.Number);
                line.Bad.Good();
                return null;
            }
            if (!parsed.IsDocument)
            {
                line.Bad.Bad("not_a_page", line.Number, line.Offset, "the object has neither an action nor page fields (namespace, title, text)");
                _pendingId = null;
                return null;
            }
            line.Bad.Good();

            string id = _pendingId ?? parsed.PageId ?? $"line:{line.Number}";
            (long startOffset, long startLine) = _pendingId is null ? (line.Offset, line.Number) : _pageStart;
            _pendingId = null;
            if (!reader._options.Namespaces.Contains(parsed.Namespace))
            {
                reader.Statistics.AddSkip("namespace");
                return null;
            }
            if (string.IsNullOrWhiteSpace(parsed.Text) && !reader._options.Lines.KeepEmptyText)
            {
                reader.Statistics.AddSkip("empty_text", $"{reader.Location}: line {line.Number}: page {id} '{parsed.Title}' has empty text");
                return null;
            }

            var metadata = new Dictionary<string, string>(2, StringComparer.Ordinal)
            {
                ["title"] = parsed.Title ?? string.Empty,
                ["namespace"] = parsed.Namespace.ToString(CultureInfo.InvariantCulture),
            };
            reader.Statistics.AddYielded();
            return new Document(id, parsed.Text ?? string.Empty) { Metadata = metadata, SourceOffset = line.IsSeekable ? startOffset : -1, SourceLine = startLine };
        }
    }

    private protected override CirrusLine Parse(ReadOnlySpan<byte> line, JsonStringDecoder strings)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("expected a JSON object");
        }
        var result = new CirrusLine();
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                throw new JsonException($"unexpected {reader.TokenType} at byte {reader.TokenStartIndex}");
            }
            if (reader.ValueTextEquals("index"u8) || reader.ValueTextEquals("create"u8))
            {
                result.IsAction = true;
                reader.Read();
                result.ActionId = ReadActionId(ref reader);
                continue;
            }
            if (reader.ValueTextEquals("namespace"u8))
            {
                reader.Read();
                result.Namespace = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : int.Parse(reader.GetString()!, CultureInfo.InvariantCulture);
                result.IsDocument = true;
            }
            else if (reader.ValueTextEquals("title"u8))
            {
                reader.Read();
                result.Title = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                result.IsDocument = true;
            }
            else if (reader.ValueTextEquals("text"u8))
            {
                reader.Read();
                result.Text = reader.TokenType == JsonTokenType.String ? strings.GetString(ref reader) : null;
                result.IsDocument = true;
            }
            else if (reader.ValueTextEquals("page_id"u8))
            {
                reader.Read();
                result.PageId = reader.TokenType switch
                {
                    JsonTokenType.Number => reader.GetInt64().ToString(CultureInfo.InvariantCulture),
                    JsonTokenType.String => reader.GetString(),
                    _ => null,
                };
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
        return result;
    }

    private static string? ReadActionId(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        string? id = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            bool isId = reader.ValueTextEquals("_id"u8);
            reader.Read();
            if (isId)
            {
                id = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString(),
                    JsonTokenType.Number => reader.GetInt64().ToString(CultureInfo.InvariantCulture),
                    _ => null,
                };
            }
            else
            {
                reader.Skip();
            }
        }
        return id;
    }

}

/// <summary>One line of a CirrusSearch dump as a decode worker reads it: an action line, or a page's fields.</summary>
public struct CirrusLine
{
    public bool IsAction { get; set; }
    public bool IsDocument { get; set; }
    public string? ActionId { get; set; }
    public int Namespace { get; set; }
    public string? Title { get; set; }
    public string? Text { get; set; }
    public string? PageId { get; set; }
}
