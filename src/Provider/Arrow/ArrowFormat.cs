using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Arrow;

/// <summary>Arrow IPC, file format (<c>ARROW1</c>) or stream format (Hugging Face <c>.arrow</c> files).</summary>
public sealed class ArrowFormat : ISourceFormat
{
    public string Name => "arrow";

    public IReadOnlyList<string> Aliases => ["feather", "ipc"];

    public string Summary => "Arrow IPC file or stream (a Hugging Face data-0000N-of-0000M.arrow)";

    public IReadOnlyList<SourceOptionInfo> Options => [];

    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory)
        {
            return SniffResult.No;
        }
        ReadOnlySpan<byte> head = probe.Head.Span;
        if (head.StartsWith("ARROW1"u8))
        {
            return SniffResult.Certain;
        }
        // The stream format opens with a continuation marker and the schema message's length.
        if (head.Length >= 8 && head[..4].SequenceEqual((ReadOnlySpan<byte>)[0xFF, 0xFF, 0xFF, 0xFF])
            && System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(head[4..8]) is > 0 and < (1 << 24))
        {
            return SniffResult.Certain;
        }
        return probe.NameHint.EndsWith(".arrow", StringComparison.Ordinal) || probe.NameHint.EndsWith(".feather", StringComparison.Ordinal) ? SniffResult.Possible : SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        new ArrowDocumentReader(location, new ArrowOptions { Columns = settings.Columns, Lines = settings.Lines, Http = settings.Http }, http, statistics);
}
