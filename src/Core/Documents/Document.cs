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
    public long Ordinal { get; init; } = -1;

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
    public int SourcePart { get; init; }

    /// <summary>
    /// The document's 0-based position among the documents of its part (<see cref="SourcePart"/>), before sharding and
    /// shuffling: with the part, where it stands in the source whatever the rank, the shuffle or a resume. -1 until the
    /// provider sets it.
    /// </summary>
    public long SourceOrdinal { get; init; } = -1;

    /// <summary>UTF-16 length of the text; used for byte and rate counters.</summary>
    public int Length => Text.Length;
}
