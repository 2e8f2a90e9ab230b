using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Wikipedia;

/// <summary>Wikipedia XML dumps (<c>pages-articles*.xml[.bz2]</c>, multistream included), wikitext turned into prose.</summary>
public sealed class WikipediaXmlFormat : ISourceFormat
{
    private static readonly SourceOptionInfo s_redirects = new("keep-redirects", "true|false", "Wikipedia XML: keep redirect pages (skipped and counted by default).", "false");
    private static readonly SourceOptionInfo s_raw = new("wikitext", "prose|raw", "Wikipedia XML: 'prose' strips templates, tables, refs and markup; 'raw' keeps the wikitext.", "prose");

    public string Name => "wikixml";

    public IReadOnlyList<string> Aliases => ["xml", "mediawiki"];

    public string Summary => "Wikipedia XML dump (pages-articles*.xml.bz2, multistream too), as prose";

    public IReadOnlyList<SourceOptionInfo> Options => [CirrusSearchFormat.NamespacesOption, s_redirects, s_raw];

    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory)
        {
            return SniffResult.No;
        }
        ReadOnlySpan<byte> head = probe.Head.Span;
        if (head.StartsWith("\uFEFF"u8))
        {
            head = head[3..];
        }
        head = head.TrimStart(" \t\r\n"u8);
        if (head.StartsWith("<mediawiki"u8) || (head.StartsWith("<?xml"u8) && head.IndexOf("<mediawiki"u8) >= 0))
        {
            return SniffResult.Certain;
        }
        return head.StartsWith("<?xml"u8) ? SniffResult.Possible : SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        new WikipediaXmlReader(location, new WikipediaXmlOptions
        {
            Namespaces = CirrusSearchFormat.ParseNamespaces(settings.Option(CirrusSearchFormat.NamespacesOption)),
            KeepRedirects = ParseBool(settings.Option(s_redirects), s_redirects.Name),
            RawWikitext = settings.Option(s_raw) switch
            {
                "prose" or null => false,
                "raw" => true,
                string other => throw new ArgumentException($"--wikitext {other}: expected prose or raw."),
            },
            Lines = settings.Lines,
            Http = settings.Http,
        }, http, statistics);

    internal static bool ParseBool(string? value, string option) => value?.ToLowerInvariant() switch
    {
        null or "false" or "no" or "0" => false,
        "true" or "yes" or "1" or "" => true,
        _ => throw new ArgumentException($"--{option} {value}: expected true or false."),
    };
}
