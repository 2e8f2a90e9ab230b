using System.Globalization;
using System.Runtime.CompilerServices;
using System.Xml;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Wikipedia;

/// <summary>Settings for <see cref="WikipediaXmlReader"/>.</summary>
public sealed record WikipediaXmlOptions
{
    /// <summary>Namespaces to keep; articles are namespace 0.</summary>
    public IReadOnlySet<int> Namespaces { get; init; } = new HashSet<int> { 0 };

    /// <summary>Keep redirect pages (their text is only <c>#REDIRECT [[Target]]</c>); skipped and counted by default.</summary>
    public bool KeepRedirects { get; init; }

    /// <summary>Yield the wikitext as it is instead of prose.</summary>
    public bool RawWikitext { get; init; }

    /// <summary>What to do with a page whose XML is malformed.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>
/// Streams a Wikipedia XML dump (<c>pages-articles*.xml</c>, plain, <c>.bz2</c> including multistream, gzip or zstd;
/// from disk or over HTTP(S)): one document per page in the kept namespaces, its wikitext turned into prose by
/// <see cref="WikitextCleaner"/>.
/// </summary>
/// <remarks>
/// The id is the page id and the metadata carries the title and namespace. Redirects, pages outside the namespaces and
/// pages whose prose is empty are skipped and counted. XML that breaks off (a truncated download) is an error naming
/// the line and the compressed offset, since nothing after it can be read.
/// </remarks>
public sealed class WikipediaXmlReader : IDocumentSource
{
    private readonly string _location;
    private readonly WikipediaXmlOptions _options;
    private readonly HttpClient? _http;
    private readonly Lazy<string> _fingerprint;

    public WikipediaXmlReader(string location, WikipediaXmlOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        _location = location;
        _options = options ?? new WikipediaXmlOptions();
        _http = http;
        Statistics = statistics ?? new SourceStatistics();
        _fingerprint = new Lazy<string>(
            () => $"wikixml|{InputIdentity.Describe(location)}|ns={string.Join(',', _options.Namespaces.Order())}|redirects={_options.KeepRedirects}|raw={_options.RawWikitext}",
            LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"wikixml:{_location}";

    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using OpenedInput input = await OpenedInput.OpenAsync(_location, _http, _options.Http, Statistics, _options.Lines.DecodeThreadCount, cancellationToken).ConfigureAwait(false);
        _ = Fingerprint;
        // The serial stage parses the XML and counts the skips a page's fields decide; cleaning the wikitext into prose,
        // the costly part, runs on the decode threads, and the pages come back in order.
        IAsyncEnumerable<PageChunk> framed = FramePagesAsync(input, cancellationToken);
        await foreach (PageChunk chunk in Decoding.OrderedDecode.RunAsync(framed, Clean, _options.Lines.DecodeThreadCount, cancellationToken).ConfigureAwait(false))
        {
            using (chunk)
            {
                for (int i = 0; i < chunk.Pages.Count; i++)
                {
                    (Page page, long line) = chunk.Pages[i];
                    string text = page.Text;
                    if (string.IsNullOrWhiteSpace(text) && !_options.Lines.KeepEmptyText)
                    {
                        Statistics.AddSkip("empty_text", $"{_location}: line {line}: page {page.Id} '{page.Title}' has no prose");
                        continue;
                    }
                    var metadata = new Dictionary<string, string>(2, StringComparer.Ordinal)
                    {
                        ["title"] = page.Title,
                        ["namespace"] = page.Namespace!.Value.ToString(CultureInfo.InvariantCulture),
                    };
                    Statistics.AddYielded();
                    yield return new Document(page.Id!, text) { Metadata = metadata };
                }
            }
        }
    }

    /// <summary>A worker's part: each page's wikitext into prose, in place (left as it is with <see cref="WikipediaXmlOptions.RawWikitext"/>).</summary>
    private void Clean(PageChunk chunk)
    {
        if (_options.RawWikitext)
        {
            return;
        }
        foreach ((Page page, _) in chunk.Pages)
        {
            page.Text = WikitextCleaner.Clean(page.Text);
        }
    }

    /// <summary>The serial stage: pages parsed from the XML, those a field rules out counted in order, the rest in chunks.</summary>
    private async IAsyncEnumerable<PageChunk> FramePagesAsync(OpenedInput input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
            CloseInput = false,
        };
        using XmlReader xml = XmlReader.Create(input.Content, settings);
        var bad = new BadRecordTracker(_location, "a Wikipedia XML dump", _options.Lines, Statistics);
        long page = 0;
        long counted = 0;
        var chunk = new PageChunk();
        long chunkCharacters = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Page? parsed;
            Exception? failure = null;
            try
            {
                parsed = ReadToNextPage(xml) ? ReadPage(xml, _options.Lines.MaxLineBytes) : null;
            }
            catch (Exception ex) when (ex is XmlException or IOException or InvalidDataException or EndOfStreamException or ICSharpCode.SharpZipLib.SharpZipBaseException or ZstdSharp.ZstdException)
            {
                failure = input.DescribeFailure(ex, (xml as IXmlLineInfo)?.LineNumber ?? 0);
                parsed = null;
            }
            if (parsed is null)
            {
                // The pages before a failure are handed on first; the failure then keeps its place.
                if (chunk.Pages.Count > 0)
                {
                    yield return chunk;
                }
                if (failure is not null)
                {
                    throw failure;
                }
                yield break;
            }
            page++;
            Statistics.AddRecord(input.ContentBytesRead - counted);
            counted = input.ContentBytesRead;
            Statistics.SetRawProgress(input.RawBytesRead, input.RawLength);
            long line = (xml as IXmlLineInfo)?.LineNumber ?? 0;
            if (parsed.TextCharacters > _options.Lines.MaxLineBytes)
            {
                bad.Bad("oversized", line, input.RawBytesRead, $"page {parsed.Id} ('{parsed.Title}') has a text of {parsed.TextCharacters:N0} characters, over the {_options.Lines.MaxLineBytes:N0} a record may have");
                continue;
            }
            if (parsed.Id is null || parsed.Namespace is null)
            {
                bad.Bad("malformed_page", line, input.RawBytesRead, $"page {page} ('{parsed.Title}') has no <id> or <ns>");
                continue;
            }
            bad.Good();
            if (!_options.Namespaces.Contains(parsed.Namespace.Value))
            {
                Statistics.AddSkip("namespace");
                continue;
            }
            if (parsed.Redirect && !_options.KeepRedirects)
            {
                Statistics.AddSkip("redirect");
                continue;
            }
            chunk.Pages.Add((parsed, line));
            chunkCharacters += parsed.Text.Length;
            if (chunk.Pages.Count >= PageChunk.MaxPages || chunkCharacters >= PageChunk.TargetCharacters)
            {
                yield return chunk;
                chunk = new PageChunk();
                chunkCharacters = 0;
            }
        }
    }

    /// <summary>Pages the serial stage parsed, with the line each ended on; the decode turns each page's text into prose.</summary>
    private sealed class PageChunk : IDisposable
    {
        /// <summary>Most pages a chunk holds.</summary>
        public const int MaxPages = 32;

        /// <summary>A chunk is handed on once its wikitext reaches this many characters.</summary>
        public const int TargetCharacters = 1 << 20;

        public List<(Page Page, long Line)> Pages { get; } = new(MaxPages);

        public void Dispose()
        {
            // Nothing pooled: the pages and their text go with the chunk.
        }
    }

    /// <summary>
    /// Elements may nest this deep (a MediaWiki export nests 4 levels): the XML reader keeps a frame per open element,
    /// so a file of nothing but start tags would otherwise grow memory with its size.
    /// </summary>
    internal const int MaxDepth = 64;

    // Moves to the next <page> start tag, as ReadToFollowing does, refusing XML nested deeper than MaxDepth.
    private static bool ReadToNextPage(XmlReader xml)
    {
        while (xml.Read())
        {
            if (xml.NodeType == XmlNodeType.Element)
            {
                CheckDepth(xml);
                if (xml.LocalName == "page")
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static void CheckDepth(XmlReader xml)
    {
        if (xml.Depth > MaxDepth)
        {
            throw new XmlException($"elements are nested more than {MaxDepth} deep (<{xml.LocalName}>); a MediaWiki export nests 4, so this is not a dump");
        }
    }

    // Reads one <page> element, the reader positioned on its start tag; leaves it on the end tag, so the next
    // read (which reads before it looks) finds the next page. A <text> longer than maxCharacters is read to its end
    // but not kept (Page.TextCharacters says how long it was).
    private static Page ReadPage(XmlReader xml, int maxCharacters)
    {
        var page = new Page();
        int depth = xml.Depth;
        if (xml.IsEmptyElement)
        {
            return page;
        }
        bool inRevision = false;
        xml.Read();
        while (!xml.EOF && !(xml.NodeType == XmlNodeType.EndElement && xml.Depth == depth))
        {
            if (xml.NodeType == XmlNodeType.EndElement && xml.LocalName == "revision")
            {
                inRevision = false;
            }
            else if (xml.NodeType == XmlNodeType.Element)
            {
                // ReadElementContentAsString moves past the element itself, so those cases skip the Read below.
                switch (xml.LocalName)
                {
                    case "title" when xml.Depth == depth + 1:
                        page.Title = xml.ReadElementContentAsString();
                        continue;
                    case "ns" when xml.Depth == depth + 1:
                        page.Namespace = int.TryParse(xml.ReadElementContentAsString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int ns) ? ns : null;
                        continue;
                    case "id" when xml.Depth == depth + 1:
                        page.Id = xml.ReadElementContentAsString().Trim();
                        continue;
                    case "redirect" when xml.Depth == depth + 1:
                        page.Redirect = true;
                        break;
                    case "revision" when !xml.IsEmptyElement:
                        // A pages-articles dump has one revision per page; with several (a history dump) the last wins.
                        inRevision = true;
                        break;
                    case "text" when inRevision:
                        (page.Text, page.TextCharacters) = ReadText(xml, maxCharacters);
                        continue;
                }
                CheckDepth(xml);
            }
            xml.Read();
        }
        return page;
    }

    // Reads the element the reader is on as text, in chunks, keeping at most maxCharacters of it (the rest is read and
    // counted, never held), and moves past its end tag as ReadElementContentAsString does.
    private static (string Text, long Characters) ReadText(XmlReader xml, int maxCharacters)
    {
        if (xml.IsEmptyElement)
        {
            xml.Read();
            return (string.Empty, 0);
        }
        int depth = xml.Depth;
        var text = new System.Text.StringBuilder();
        char[] chunk = System.Buffers.ArrayPool<char>.Shared.Rent(16 * 1024);
        long characters = 0;
        try
        {
            xml.Read();
            while (!xml.EOF && !(xml.NodeType == XmlNodeType.EndElement && xml.Depth == depth))
            {
                if (xml.NodeType is XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace)
                {
                    int n;
                    while ((n = xml.ReadValueChunk(chunk, 0, chunk.Length)) > 0)
                    {
                        characters += n;
                        if (characters <= maxCharacters)
                        {
                            text.Append(chunk, 0, n);
                        }
                    }
                }
                else if (xml.NodeType == XmlNodeType.Element)
                {
                    CheckDepth(xml);
                }
                xml.Read();
            }
            xml.Read();
        }
        finally
        {
            System.Buffers.ArrayPool<char>.Shared.Return(chunk);
        }
        return (characters <= maxCharacters ? text.ToString() : string.Empty, characters);
    }

    private sealed class Page
    {
        public long TextCharacters;
        public string Title = string.Empty;
        public int? Namespace;
        public string? Id;
        public bool Redirect;
        public string Text = string.Empty;
    }
}
