namespace StreamLoader.Core.Documents;

/// <summary>
/// A source made of independent parts (the files of a folder, a glob or a list) that can be read one at a time, so
/// ranks can split it by part and an epoch can visit the parts in a shuffled order.
/// </summary>
public interface IPartitionedSource : IDocumentSource
{
    /// <summary>How many parts there are.</summary>
    int PartitionCount { get; }

    /// <summary>A description of part <paramref name="index"/> (its path or URL).</summary>
    string DescribePartition(int index);

    /// <summary>Streams the documents of part <paramref name="index"/>, counting into <see cref="IDocumentSource.Statistics"/>.</summary>
    IAsyncEnumerable<Document> ReadPartitionAsync(int index, CancellationToken cancellationToken = default);

    /// <summary>
    /// Parts the provider reads at once, each ahead of its turn (the stream still takes them whole and in order): 1 for
    /// one at a time. Parts must then be readable concurrently.
    /// </summary>
    int PartsAtOnce => 1;
}
