namespace StreamLoader.Provider.Streaming;

/// <summary>Where a resume may start reading one file: the record's index (before sharding), its input index, byte offset and line.</summary>
/// <param name="Raw">Records of the file before it.</param>
/// <param name="Input">This rank's inputs (after sharding) before it.</param>
/// <param name="Offset">The byte offset where it starts.</param>
/// <param name="Line">The line it starts on.</param>
public sealed record SeekMark(long Raw, long Input, long Offset, long Line)
{
    /// <summary>For a URL, the version label the offset belongs to (see <see cref="Core.Documents.ISeekableSource.SeekValidator"/>).</summary>
    public string? Validator { get; init; }
}
