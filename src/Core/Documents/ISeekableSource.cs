namespace StreamLoader.Core.Documents;

/// <summary>
/// A source that can start reading at a record it yielded before (an uncompressed JSON Lines, CirrusSearch or CSV
/// file, local or from a server that accepts ranges): its documents carry <see cref="Document.SourceOffset"/> and <see cref="Document.SourceLine"/>, and a
/// resume seeks there instead of reading everything before it again.
/// </summary>
public interface ISeekableSource : IDocumentSource
{
    /// <summary>True when this input can seek (not compressed; a local file, or a URL whose server accepts ranges); known once reading has begun.</summary>
    bool CanSeek { get; }

    /// <summary>For a URL, the version label (ETag or Last-Modified) of what is being read, saved with a position; null for a local file.</summary>
    string? SeekValidator { get; }

    /// <summary>
    /// Streams the documents from the record that starts at <paramref name="offset"/> on line <paramref name="line"/>;
    /// a URL whose version is not <paramref name="validator"/> fails at once instead of being read mid-record.
    /// </summary>
    IAsyncEnumerable<Document> ReadFromAsync(long offset, long line, string? validator, CancellationToken cancellationToken = default);
}
