using System.Globalization;
using System.Runtime.CompilerServices;
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
public sealed class CirrusSearchDumpReader : JsonLineSource
{
    private readonly CirrusSearchOptions _options;

    public CirrusSearchDumpReader(string location, CirrusSearchOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
        : base(location, http, (options ??= new CirrusSearchOptions()).Http, options.Lines, statistics, "a CirrusSearch dump", input => $"cirrussearch|{input}|ns={string.Join(',', options.Namespaces.Order())}")
    {
        _options = options;
    }

    public override string Description => $"cirrussearch:{Location}";

    private protected override async IAsyncEnumerable<Document> ReadLinesAsync(JsonLineCursor lines, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        bool seekable = lines.IsSeekable;
        BadRecordTracker bad = lines.Bad;
        string? pendingId = null;
        // Where the page being read began: its action line, so a resume seeks to the pair, not to half of it.
        (long Offset, long Line) pageStart = (-1, 0);

        while (await lines.MoveNextAsync(cancellationToken).ConfigureAwait(false))
        {
            if (lines.SkippedBadLine)
            {
                // The skipped line may have been this page's action or document line: don't pair across it.
                pendingId = null;
            }
            ReadOnlySpan<byte> line = lines.Line;
            ParsedLine parsed;
            try
            {
                parsed = Parse(line, lines.Strings);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
            {
                lines.BadJson(ex.Message);
                pendingId = null;
                continue;
            }

            if (parsed.IsAction)
            {
                pendingId = parsed.ActionId;
                pageStart = (lines.LineOffset, lines.LineNumber);
                bad.Good();
                continue;
            }
            if (!parsed.IsDocument)
            {
                bad.Bad("not_a_page", lines.LineNumber, lines.LineOffset, "the object has neither an action nor page fields (namespace, title, text)");
                pendingId = null;
                continue;
            }
            bad.Good();

            string id = pendingId ?? parsed.PageId ?? $"line:{lines.LineNumber}";
            (long startOffset, long startLine) = pendingId is null ? (lines.LineOffset, lines.LineNumber) : pageStart;
            pendingId = null;
            if (!_options.Namespaces.Contains(parsed.Namespace))
            {
                Statistics.AddSkip("namespace");
                continue;
            }
            if (string.IsNullOrWhiteSpace(parsed.Text) && !_options.Lines.KeepEmptyText)
            {
                Statistics.AddSkip("empty_text", $"{Location}: line {lines.LineNumber}: page {id} '{parsed.Title}' has empty text");
                continue;
            }

            var metadata = new Dictionary<string, string>(2, StringComparer.Ordinal)
            {
                ["title"] = parsed.Title ?? string.Empty,
                ["namespace"] = parsed.Namespace.ToString(CultureInfo.InvariantCulture),
            };
            Statistics.AddYielded();
            yield return new Document(id, parsed.Text ?? string.Empty) { Metadata = metadata, SourceOffset = seekable ? startOffset : -1, SourceLine = startLine };
        }
    }

    private static ParsedLine Parse(ReadOnlySpan<byte> line, JsonStringDecoder strings)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("expected a JSON object");
        }
        var result = new ParsedLine();
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

    private struct ParsedLine
    {
        public bool IsAction;
        public bool IsDocument;
        public string? ActionId;
        public int Namespace;
        public string? Title;
        public string? Text;
        public string? PageId;
    }
}
