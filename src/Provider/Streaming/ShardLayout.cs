using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// Which of a source's documents are a rank's inputs before the shuffle: whole files when the source has at least as
/// many as there are ranks, else blocks of <see cref="Block"/> consecutive documents of a unit of parts (<see cref="PartUnit"/>: one file when files are
/// read one at a time) dealt in turn. A global
/// order (<see cref="DocumentStreamOptions.GlobalOrder"/>) is laid out for a single rank and dealt after the shuffle.
/// </summary>
internal sealed class ShardLayout
{
    public ShardLayout(RankInfo rank, int block)
    {
        Rank = rank;
        Block = block;
    }

    /// <summary>The rank the source is split for (<see cref="RankInfo.Single"/> for a global order).</summary>
    public RankInfo Rank { get; }

    /// <summary>Documents per block when the source is split by document.</summary>
    public int Block { get; }

    /// <summary>True when ranks split <paramref name="source"/> by file rather than by document.</summary>
    public bool ByFile(IDocumentSource source) =>
        source is IPartitionedSource { PartitionCount: > 1 } parts && parts.PartitionCount >= Rank.WorldSize && Rank.WorldSize > 1;

    /// <summary>True when the file at <paramref name="position"/> of the pass's order is this rank's (split by file).</summary>
    public bool OwnsFile(int position) => position % Rank.WorldSize == Rank.Rank;

    /// <summary>True when document <paramref name="index"/> of a unit of parts whose blocks start at <paramref name="firstBlock"/> is this rank's (split by document).</summary>
    public bool OwnsDocument(long firstBlock, long index) => Rank.Owns(firstBlock + (index / Block));

    /// <summary>
    /// Documents of a unit of parts (<see cref="PartUnit"/>) that are this rank's inputs, from the parts'
    /// <paramref name="counts"/> (by position in the pass): all of the parts it reads when ranks split by file, else
    /// those of the blocks it owns (the unit's documents, in the order it takes them, make blocks from
    /// <paramref name="firstBlock"/> on, the last maybe short).
    /// </summary>
    public long Owned(bool byFile, PartUnit unit, long firstBlock, IReadOnlyList<long> counts)
    {
        long owned = 0;
        if (byFile)
        {
            foreach (int position in unit.Reads)
            {
                owned += counts[position];
            }
            return owned;
        }
        long count = Total(unit, counts);
        if (count == 0)
        {
            return 0;
        }
        long blocks = BlocksOf(count);
        long last = count - ((blocks - 1) * Block);
        return (Rank.OwnedAmong(firstBlock, blocks - 1) * Block) + (Rank.Owns(firstBlock + blocks - 1) ? last : 0);
    }

    /// <summary>The documents of a unit's parts, this rank's or not.</summary>
    public static long Total(PartUnit unit, IReadOnlyList<long> counts)
    {
        long total = 0;
        for (int position = unit.Start; position < unit.End; position++)
        {
            total += counts[position];
        }
        return total;
    }

    /// <summary>The blocks <paramref name="count"/> documents of one part make.</summary>
    public long BlocksOf(long count) => (count + Block - 1) / Block;
}
