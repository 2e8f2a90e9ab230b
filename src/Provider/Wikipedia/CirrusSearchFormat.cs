using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Wikipedia;

/// <summary>Wikipedia CirrusSearch content dumps: Elasticsearch bulk lines, an action line then a page.</summary>
public sealed class CirrusSearchFormat : ISourceFormat
{
    /// <summary>The namespaces option, shared with the XML dump format.</summary>
    internal static readonly SourceOptionInfo NamespacesOption = new("namespaces", "n[,n]", "Wikipedia: namespaces to keep (0 = articles).", "0");

    public string Name => "cirrussearch";

    public IReadOnlyList<string> Aliases => ["cirrus"];

    public string Summary => "Wikipedia CirrusSearch content dump (*-cirrussearch-content.json.gz)";

    public IReadOnlyList<SourceOptionInfo> Options => [NamespacesOption];

    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory)
        {
            return SniffResult.No;
        }
        // An action line: {"index":{...}} or {"create":{...}}, with or without "_type".
        ReadOnlySpan<byte> line = probe.FirstLine;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject && reader.Read() && reader.TokenType == JsonTokenType.PropertyName
                && (reader.ValueTextEquals("index"u8) || reader.ValueTextEquals("create"u8)) && reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                return SniffResult.Certain;
            }
        }
        catch (JsonException)
        {
        }
        return SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        new CirrusSearchDumpReader(location, new CirrusSearchOptions
        {
            Namespaces = ParseNamespaces(settings.Option(NamespacesOption)),
            Lines = settings.Lines,
            Http = settings.Http,
        }, http, statistics);

    internal static IReadOnlySet<int> ParseNamespaces(string? value)
    {
        var set = new HashSet<int>();
        foreach (string part in (value ?? "0").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            set.Add(int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int ns)
                ? ns
                : throw new ArgumentException($"--namespaces {value}: expected namespace numbers such as 0 or 0,14."));
        }
        return set;
    }
}
