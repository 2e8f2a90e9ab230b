using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Jsonl;

/// <summary>JSON Lines: one JSON object per line (<c>.jsonl</c>, <c>.ndjson</c>, The Pile's <c>.jsonl.zst</c>).</summary>
public sealed class JsonlFormat : ISourceFormat
{
    public string Name => "jsonl";

    public IReadOnlyList<string> Aliases => ["json", "ndjson"];

    public string Summary => "JSON Lines, one object per line; --text-column names the field(s)";

    public IReadOnlyList<SourceOptionInfo> Options => [];

    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory)
        {
            return SniffResult.No;
        }
        if (IsJsonObjectLine(probe.FirstLine, probe.HeadIsWhole || probe.Head.Span.IndexOf((byte)'\n') >= 0))
        {
            return SniffResult.Likely;
        }
        return probe.NameHint.EndsWith(".jsonl", StringComparison.Ordinal) || probe.NameHint.EndsWith(".ndjson", StringComparison.Ordinal)
            ? SniffResult.Possible
            : SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        new JsonlDocumentReader(location, new JsonlOptions
        {
            TextFields = settings.Columns.Text,
            IdField = settings.Columns.Id,
            LabelField = settings.Columns.Label,
            KeepFields = settings.Columns.Keep,
            Lines = settings.Lines,
            Http = settings.Http,
        }, http, statistics);

    /// <summary>True when <paramref name="line"/> is one whole JSON object (or, if cut off by the sniff window, starts like one).</summary>
    internal static bool IsJsonObjectLine(ReadOnlySpan<byte> line, bool lineIsWhole)
    {
        ReadOnlySpan<byte> trimmed = line.Trim(" \t\r"u8);
        if (trimmed.IsEmpty || trimmed[0] != (byte)'{')
        {
            return false;
        }
        if (!lineIsWhole)
        {
            // A first record longer than the sniff window: it starts like an object, which is all we can see.
            return true;
        }
        try
        {
            var reader = new Utf8JsonReader(trimmed);
            reader.Read();
            reader.Skip();
            return reader.BytesConsumed == trimmed.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
