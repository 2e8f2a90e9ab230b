namespace StreamLoader.Provider.Streaming;

/// <summary>
/// How ranks share one global document stream (<c>--sharding global</c>): the stream one process would read, shuffled
/// by the seed whatever the number of ranks, dealt round-robin. The j-th document at or after <see cref="Start"/> that
/// is not in <see cref="Skip"/> goes to rank j mod <see cref="WorldSize"/>. A fresh run deals from 0; a run resumed with
/// another number of ranks deals what the ranks before it left, from where the one furthest behind stood
/// (<see cref="ElasticResume"/>).
/// </summary>
/// <remarks>
/// As MosaicML Streaming does, the order is fixed by the seed alone and the world size only decides who takes which
/// slice of it, so a resume can re-deal the rest among any number of ranks without training a document twice or
/// skipping one. The price: every rank reads (and parses) the whole source and keeps its share, where
/// <c>--sharding local</c> has each rank read only its own files.
/// </remarks>
public sealed record GlobalDeal
{
    /// <summary>Ranks the stream is dealt among.</summary>
    public required int WorldSize { get; init; }

    /// <summary>The rank this position belongs to.</summary>
    public required int Rank { get; init; }

    /// <summary>The global ordinal dealing starts at: every document before it was trained by an earlier run.</summary>
    public long Start { get; init; }

    /// <summary>Documents at or after <see cref="Start"/> already trained by an earlier run, ascending: dealt to no one.</summary>
    public IReadOnlyList<long> Skip { get; init; } = [];

    /// <summary>Part-trained documents (global ordinal → tokens already trained): whoever is dealt one continues at its next token.</summary>
    public IReadOnlyDictionary<long, long> Offsets { get; init; } = new Dictionary<long, long>();

    /// <summary>The world sizes the run has had, oldest first (4, 2: started with four ranks, resumed with two).</summary>
    public IReadOnlyList<int> History { get; init; } = [];

    /// <summary>A fresh run's deal: everything, from the first document, among <paramref name="worldSize"/> ranks.</summary>
    public static GlobalDeal Fresh(int worldSize, int rank) => new() { WorldSize = worldSize, Rank = rank, History = [worldSize] };

    /// <summary>The rank the document with global <paramref name="ordinal"/> is dealt to; null for one trained before this deal.</summary>
    public int? OwnerOf(long ordinal)
    {
        if (ordinal < Start)
        {
            return null;
        }
        int index = BinarySearch(Skip, ordinal);
        if (index >= 0)
        {
            return null;
        }
        long dealt = ordinal - Start - ~index;
        return (int)(dealt % WorldSize);
    }

    /// <summary>True when <paramref name="other"/> deals the same documents the same way (it may be another rank's).</summary>
    public bool SameDealAs(GlobalDeal other) =>
        WorldSize == other.WorldSize && Start == other.Start && Skip.SequenceEqual(other.Skip) && History.SequenceEqual(other.History)
        && Offsets.Count == other.Offsets.Count && Offsets.All(p => other.Offsets.TryGetValue(p.Key, out long o) && o == p.Value);

    private static int BinarySearch(IReadOnlyList<long> sorted, long value)
    {
        int lo = 0;
        int hi = sorted.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            long at = sorted[mid];
            if (at == value)
            {
                return mid;
            }
            if (at < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
    }
}
