using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Catalog;

/// <summary>
/// One format the provider reads: how to recognise it from its first bytes, what options it takes, and how to open it.
/// Adding a format is a folder under <c>src/Provider</c> with one of these, registered in <see cref="SourceCatalog"/>.
/// </summary>
public interface ISourceFormat
{
    /// <summary>The name <c>--source-format</c> takes (lower case).</summary>
    string Name { get; }

    /// <summary>Other names <c>--source-format</c> accepts.</summary>
    IReadOnlyList<string> Aliases { get; }

    /// <summary>One line for <c>--help</c>: what the format is and where it is published.</summary>
    string Summary { get; }

    /// <summary>Options only this format takes (the columns, HTTP and bad-record options are common to all).</summary>
    IReadOnlyList<SourceOptionInfo> Options { get; }

    /// <summary>
    /// How sure the format is that <paramref name="probe"/> is in it: <see cref="SniffResult.No"/>, or a confidence
    /// the catalog compares with the other formats' (the highest wins). The name is only a hint.
    /// </summary>
    SniffResult Sniff(SourceProbe probe);

    /// <summary>Opens the source at <paramref name="location"/>; reading starts when it is enumerated.</summary>
    /// <param name="location">A path, URL or folder this format recognised (or was told to read).</param>
    /// <param name="settings">Columns, options and policies.</param>
    /// <param name="http">The client for URLs, or null for the provider's own.</param>
    /// <param name="statistics">Counters to count into (a file set passes one per file), or null for the source's own.</param>
    IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null);
}

/// <summary>How sure a format is that an input is in it.</summary>
public enum SniffResult
{
    /// <summary>The content rules it out.</summary>
    No = 0,

    /// <summary>It could be (a plain-text format with nothing contradicting it, or only the name agrees).</summary>
    Possible = 1,

    /// <summary>The content has the format's structure (a JSON object per line, a CSV header row).</summary>
    Likely = 2,

    /// <summary>The content carries the format's own marker (magic bytes, a CirrusSearch action line, a MediaWiki root element).</summary>
    Certain = 3,
}

/// <summary>A format-specific option: its name (without dashes), what it means and its default.</summary>
/// <param name="Name">The option's name, for example <c>split</c>; the console offers it as <c>--split</c>.</param>
/// <param name="HelpName">What the value looks like, for example <c>name</c>.</param>
/// <param name="Description">One sentence for <c>--help</c>.</param>
/// <param name="Default">The value when the option is not given, or null.</param>
public sealed record SourceOptionInfo(string Name, string HelpName, string Description, string? Default = null);

/// <summary>What the catalog knows about an input before choosing its format.</summary>
public sealed class SourceProbe
{
    /// <summary>The path, URL or folder as given.</summary>
    public required string Location { get; init; }

    /// <summary>The file name (last path or URL segment) with any compression extension removed, lower case.</summary>
    public required string NameHint { get; init; }

    /// <summary>True when the location is a local folder.</summary>
    public bool IsDirectory { get; init; }

    /// <summary>The compression the input was found in.</summary>
    public Input.CompressionKind Compression { get; init; }

    /// <summary>The first decompressed bytes (up to 64 KiB); empty for folders.</summary>
    public ReadOnlyMemory<byte> Head { get; init; }

    /// <summary>True when <see cref="Head"/> is the whole decompressed input.</summary>
    public bool HeadIsWhole { get; init; }

    /// <summary>True when <see cref="Head"/> is valid UTF-8 (a character the sniff window cuts in two at its end counts as valid).</summary>
    public bool HeadIsUtf8
    {
        get
        {
            ReadOnlySpan<byte> head = Head.Span;
            if (!HeadIsWhole)
            {
                // The sniff window may end inside a multi-byte character.
                int cut = head.Length;
                int back = 0;
                while (cut > 0 && back < 4 && (head[cut - 1] & 0xC0) == 0x80)
                {
                    cut--;
                    back++;
                }
                if (cut > 0 && head[cut - 1] >= 0xC0)
                {
                    cut--;
                }
                head = head[..cut];
            }
            return System.Text.Unicode.Utf8.IsValid(head);
        }
    }

    /// <summary>The first line of <see cref="Head"/> after any byte order mark and blank lines, without its line break.</summary>
    public ReadOnlySpan<byte> FirstLine
    {
        get
        {
            ReadOnlySpan<byte> head = Head.Span;
            if (head.StartsWith("\uFEFF"u8))
            {
                head = head[3..];
            }
            while (true)
            {
                int end = head.IndexOf((byte)'\n');
                ReadOnlySpan<byte> line = end < 0 ? head : head[..end];
                if (!line.Trim(" \t\r"u8).IsEmpty || end < 0)
                {
                    return line.TrimEnd((byte)'\r');
                }
                head = head[(end + 1)..];
            }
        }
    }
}
