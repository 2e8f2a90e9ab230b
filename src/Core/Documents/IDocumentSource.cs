namespace StreamLoader.Core.Documents;

/// <summary>A stream of documents in the source's own order. Implementations never load a whole file into memory.</summary>
public interface IDocumentSource
{
    /// <summary>Human-readable description of where documents come from (a path or a URL).</summary>
    string Description { get; }

    /// <summary>A stable fingerprint of the source's identity and settings, checked when a saved position is resumed.</summary>
    string Fingerprint { get; }

    /// <summary>Counts of records read and skipped, updated while <see cref="ReadAsync"/> runs.</summary>
    SourceStatistics Statistics { get; }

    /// <summary>Streams the documents from the start of the source. Each call starts a fresh pass.</summary>
    IAsyncEnumerable<Document> ReadAsync(CancellationToken cancellationToken = default);
}
