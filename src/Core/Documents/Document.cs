namespace StreamLoader.Core.Documents;

/// <summary>One unit of raw text as a source yields it: an identifier, the text, and optional labels and metadata.</summary>
/// <param name="Id">The source's own identifier (page id, row id, line number), unique within the source.</param>
/// <param name="Text">The raw text; never null, possibly empty.</param>
public sealed record Document(string Id, string Text)
{
    /// <summary>Class labels for classification tasks (names, not ids); null when the source has none.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Extra fields a source carries (title, url, namespace); null when there are none.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Position of this document in the stream the provider emitted for this rank (0-based), set by the provider.</summary>
    /// <remarks>
    /// Settable so that the provider's stream stamps a document it has just read in place, instead of copying it once
    /// per stamp; <see cref="Stamp"/> copies one already stamped (a source that yields the same instance twice).
    /// </remarks>
    public long Ordinal { get; set; } = -1;

    /// <summary>
    /// Where the record starts in its file, for a source that can seek there again (<see cref="ISeekableSource"/>):
    /// the byte offset, or -1 when the source cannot seek (compressed, over HTTP).
    /// </summary>
    public long SourceOffset { get; init; } = -1;

    /// <summary>The 1-based line on which the record starts, with <see cref="SourceOffset"/>.</summary>
    public long SourceLine { get; init; }

    /// <summary>The file (or URL) of a several-file source the document came from; null for a single source.</summary>
    public string? SourceName { get; init; }

    /// <summary>
    /// The part of its source the document came from (the file of a several-file source, the row group of a Parquet
    /// file, in the source's own order; 0 for a source of one part), set by the provider.
    /// </summary>
    public int SourcePart { get; set; }

    /// <summary>
    /// The document's 0-based position among the documents of its part (<see cref="SourcePart"/>), before sharding and
    /// shuffling: with the part, where it stands in the source whatever the rank, the shuffle or a resume. -1 until the
    /// provider sets it.
    /// </summary>
    public long SourceOrdinal { get; set; } = -1;

    /// <summary>
    /// This document with its place in the source (<see cref="SourcePart"/>, <see cref="SourceOrdinal"/>) set: itself
    /// when nothing has stamped it yet, else a copy, so a document handed on earlier keeps what it was stamped with.
    /// </summary>
    public Document StampSource(int part, long ordinal)
    {
        if (SourceOrdinal >= 0)
        {
            return this with { SourcePart = part, SourceOrdinal = ordinal };
        }
        (SourcePart, SourceOrdinal) = (part, ordinal);
        return this;
    }

    /// <summary>This document with its stream <see cref="Ordinal"/> set: itself when not yet stamped, else a copy.</summary>
    public Document Stamp(long ordinal)
    {
        if (Ordinal >= 0)
        {
            return this with { Ordinal = ordinal };
        }
        Ordinal = ordinal;
        return this;
    }

    /// <summary>UTF-16 length of the text; used for byte and rate counters.</summary>
    public int Length => Text.Length;
}
