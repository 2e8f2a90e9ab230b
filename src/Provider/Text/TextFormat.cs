using System.Buffers;
using System.Text;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Text;

/// <summary>Plain UTF-8 text (<c>.txt</c>, a book, a manual): one document per file, paragraph or line.</summary>
public sealed class TextFormat : ISourceFormat
{
    private static readonly SourceOptionInfo s_split = new("split-on", "file|paragraph|line", "Plain text: one document per file, per paragraph (blank lines between), or per line (a blank one is counted as empty).", "file");

    public string Name => "text";

    public IReadOnlyList<string> Aliases => ["txt", "plain"];

    public string Summary => "plain UTF-8 text, one document per file (--split-on paragraph|line for smaller ones)";

    public IReadOnlyList<SourceOptionInfo> Options => [s_split];

    /// <summary>
    /// Possible for text: no NUL byte, UTF-8 but for a stray bad sequence or two (at most one byte in a hundred; the
    /// reader counts those lines as bad), and not starting like JSON, HTML or XML unless named .txt. Every structured
    /// format outranks it.
    /// </summary>
    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory || probe.Head.IsEmpty || probe.Head.Span.IndexOf((byte)0) >= 0)
        {
            return SniffResult.No;
        }
        // JSON that is not JSON Lines, an HTML error page or XML no format knows: say so rather than read its markup as
        // prose, unless the name says it is text.
        ReadOnlySpan<byte> first = probe.FirstLine.TrimStart(" \t"u8);
        bool named = probe.NameHint.EndsWith(".txt", StringComparison.Ordinal) || probe.NameHint.EndsWith(".text", StringComparison.Ordinal);
        if (!named && !first.IsEmpty && first[0] is (byte)'{' or (byte)'[' or (byte)'<')
        {
            return SniffResult.No;
        }
        if (probe.HeadIsUtf8)
        {
            return SniffResult.Possible;
        }
        ReadOnlySpan<byte> head = probe.Head.Span;
        int invalid = 0;
        while (!head.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(head, out _, out int consumed) != OperationStatus.Done)
            {
                invalid++;
            }
            head = head[consumed..];
        }
        // The sniff window may cut the last character in two: one more bad sequence than the text has.
        return (invalid - 1) * 100 <= probe.Head.Length ? SniffResult.Possible : SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null)
    {
        TextSplit split = settings.Option(s_split) switch
        {
            null or "file" => TextSplit.File,
            "paragraph" or "paragraphs" => TextSplit.Paragraph,
            "line" or "lines" => TextSplit.Line,
            string other => throw new ArgumentException($"--split-on {other}: expected file, paragraph or line."),
        };
        return new TextDocumentReader(location, new TextOptions { Split = split, Lines = settings.Lines, Http = settings.Http }, http, statistics);
    }
}
