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
    /// Parts the provider reads at once on readers of their own: those its stream takes from (it may take a few parts in
    /// turns; any beyond this many are read on the stream's own thread) and the next ones, read ahead; 1 reads every part
    /// on the stream's own thread. The order of the documents does not depend on it. Parts must be readable
    /// concurrently when it is more than 1.
    /// </summary>
    int PartsAtOnce => 1;

    /// <summary>
    /// Whether a stream may take several parts' documents in turns (<c>--interleave</c>): true for parts that stream
    /// (the files of a set), false for parts each held whole in memory while read (a Parquet file's row groups), which
    /// are then taken one at a time whatever the width, so memory does not grow with it.
    /// </summary>
    bool Interleaves => true;
}
