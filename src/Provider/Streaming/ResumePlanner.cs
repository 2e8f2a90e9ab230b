using StreamLoader.Core.Documents;
using StreamLoader.Core.Randomness;
using StreamLoader.Provider.Mixing;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// Works out, from a pass's recorded part counts alone, where the pass stood after some number of documents: a pure
/// function of the settings, used both to resume (where to start reading, what the shuffle buffer held) and to say
/// where a document's position lies (<see cref="PositionLog"/>). It reads nothing and holds no live state.
/// </summary>
internal sealed class ResumePlanner
{
    private readonly IDocumentSource _source;
    private readonly ShardLayout _layout;
    private readonly int _seed;
    private readonly int _shuffleBuffer;
    private readonly ShuffleRule _shuffle;
    private readonly int _interleave;

    public ResumePlanner(IDocumentSource source, ShardLayout layout, int seed, int shuffleBuffer, ShuffleRule shuffle, int interleave)
    {
        _source = source;
        _layout = layout;
        _seed = seed;
        _shuffleBuffer = shuffleBuffer;
        _shuffle = shuffle;
        _interleave = interleave;
    }

    /// <summary>The seed of pass <paramref name="epoch"/>: its file order and shuffle.</summary>
    public static int PassSeed(int seed, int epoch) => Seeds.Derive(seed, epoch, 0);

    /// <summary>The shuffle buffer's generator for a pass: our own, so the order (and every resume) does not change with the runtime's System.Random.</summary>
    public static Xoshiro256 Generator(int passSeed) => new((ulong)Seeds.Derive(passSeed, 0x5EED));

    /// <summary>
    /// The part counts a position keeps: those every run had recorded by the time the pass emitted its
    /// <paramref name="emitted"/>th document. Reading runs ahead of the consumer by however much the channels and the
    /// clock allow, so what is recorded when the position is asked for varies from run to run; what was recorded when
    /// the document was emitted does not (the parts that end before the last input read then, or all of them once the
    /// pass was draining its buffer). A position is then a function of the settings, and a resume plans the same.
    /// </summary>
    /// <param name="emitted">Documents of the pass emitted before the position.</param>
    /// <param name="counts">The counts recorded so far.</param>
    /// <param name="replay">The pass replayed to the position from <paramref name="counts"/> (<see cref="Plan"/>), or null where it cannot be.</param>
    public static long[] CountsKnownAt(long emitted, long[] counts, ResumePlan? replay) =>
        emitted <= 0 ? [] : replay is null ? counts : counts[..replay.PartsReadBefore];

    /// <summary>
    /// Where pass <paramref name="epoch"/> stood after <paramref name="emitted"/> documents, from the files' recorded
    /// document counts: which inputs the shuffle buffer held (and in which slots), the generator's state, and which
    /// files can be passed over unread (whole units of parts read together, <see cref="PartInterleave"/>). Null when the counts do not reach far enough to say (then the pass is replayed).
    /// </summary>
    public ResumePlan? Plan(int epoch, long emitted, IReadOnlyList<long> counts, SeekMark? seek = null)
    {
        if (_source is MixedSource)
        {
            return null;
        }
        int partitionCount;
        if (_source is IPartitionedSource { PartitionCount: > 1 } parts)
        {
            partitionCount = parts.PartitionCount;
        }
        else if (seek is not null)
        {
            // One file: the plan says which inputs to keep, and the seek mark where to start reading them.
            partitionCount = 1;
        }
        else
        {
            return null;
        }
        int passSeed = PassSeed(_seed, epoch);
        bool byFile = _layout.ByFile(_source);
        // The pass's units (parts read together, interleaved). A unit's counts are recorded together when it ends, so
        // only whole units count as known.
        List<PartUnit> units = PartInterleave.UnitsOf(partitionCount, _layout, byFile, _interleave);
        int unitsKnown = 0;
        while (unitsKnown < units.Count && units[unitsKnown].End <= counts.Count)
        {
            unitsKnown++;
        }
        int aligned = unitsKnown == 0 ? 0 : units[unitsKnown - 1].End;
        // Inputs each known unit holds for this rank, and where each unit's inputs start.
        var owned = new long[unitsKnown];
        var total = new long[unitsKnown];
        var firstInput = new long[unitsKnown + 1];
        long blocks = 0;
        for (int unit = 0; unit < unitsKnown; unit++)
        {
            owned[unit] = _layout.Owned(byFile, units[unit], blocks, counts);
            total[unit] = ShardLayout.Total(units[unit], counts);
            firstInput[unit + 1] = firstInput[unit] + owned[unit];
            blocks += _layout.BlocksOf(total[unit]);
        }
        long known = firstInput[unitsKnown];
        bool allKnown = aligned == partitionCount;
        int size = _shuffleBuffer;
        Xoshiro256 random = Generator(passSeed);
        var buffer = new List<long>();
        long input = 0;
        long done = 0;
        bool draining = false;
        if (size <= 1)
        {
            // No buffer: the first input still to come is the next to emit (in a file not recorded, that file is read
            // again from its start and what was emitted dropped).
            input = emitted;
        }
        else
        {
            while (done < emitted)
            {
                if (!allKnown || input < known)
                {
                    int pick = _shuffle.Next(ref random, input, buffer.Count);
                    if (pick < 0)
                    {
                        buffer.Add(input++);
                        continue;
                    }
                    buffer[pick] = input++;
                    done++;
                    continue;
                }
                // Every input read: the saved pass was draining its buffer.
                draining = true;
                int n = buffer.Count;
                if (n == 0)
                {
                    return null;
                }
                int picked = random.NextInt32(n);
                buffer[picked] = buffer[n - 1];
                buffer.RemoveAt(n - 1);
                done++;
            }
        }
        var skip = new bool[aligned];
        var slots = new Dictionary<long, int>(buffer.Count);
        for (int slot = 0; slot < buffer.Count; slot++)
        {
            slots[buffer[slot]] = slot;
        }
        // Units whose counts were recorded before the saved document was emitted: all once the pass was draining, else
        // those that end before the last input read (reading had moved on from them to a later unit).
        int unitsReadBefore = draining ? unitsKnown : 0;
        while (unitsReadBefore < unitsKnown && firstInput[unitsReadBefore + 1] < input)
        {
            unitsReadBefore++;
        }
        long lowestBuffered = buffer.Count == 0 ? long.MaxValue : buffer.Min();
        for (int unit = 0; unit < unitsKnown; unit++)
        {
            // Passed over: all its inputs were emitted (they end before the first input still to come) and none waits in the buffer.
            bool passed = firstInput[unit + 1] <= Math.Min(input, lowestBuffered) || (owned[unit] == 0 && total[unit] > 0 && firstInput[unit + 1] <= input);
            for (int position = units[unit].Start; position < units[unit].End; position++)
            {
                skip[position] = passed;
            }
        }
        int partsReadBefore = unitsReadBefore == 0 ? 0 : units[unitsReadBefore - 1].End;
        return new ResumePlan(random, input, buffer, slots, skip, counts.Take(aligned).ToArray()) { Seek = seek, PartsReadBefore = partsReadBefore };
    }
}

/// <summary>Where a resumed pass starts: the shuffle buffer's inputs by slot, the generator, and the files to pass over unread (by position; the counts cover whole units).</summary>
internal sealed record ResumePlan(Xoshiro256 Generator, long FirstInput, IReadOnlyList<long> Buffer, Dictionary<long, int> Slots, bool[] SkippedFiles, IReadOnlyList<long> Counts)
{
    /// <summary>How many of the recorded parts were read to their end when the saved document was emitted (<see cref="ResumePlanner.CountsKnownAt"/>).</summary>
    public int PartsReadBefore { get; init; }

    /// <summary>For one seekable file, the record to start reading at, or null to read from the start.</summary>
    public SeekMark? Seek { get; init; }
}
