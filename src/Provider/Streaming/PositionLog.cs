using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// The provider's record of where its stream stood: when each pass began, each finished part's document count and a
/// seekable file's seek marks, appended as the stream reads. Whatever downstream needs a resume point (a checkpoint, a
/// committed chunk of results, a frame leaving the process) asks it here, by the ordinal the document carries; it
/// never reaches into the live stream.
/// </summary>
/// <remarks>
/// A position is worked out from what was recorded (<see cref="ResumePlanner"/>), so it is a function of the settings
/// and the ordinal, not of how far reading had run ahead when it was asked for.
/// </remarks>
public sealed class PositionLog
{
    private readonly IDocumentSource _source;
    private readonly Func<ProviderPosition> _basis;
    private readonly List<(int Epoch, long StartOrdinal)> _epochStarts = [];

    // Each pass's finished parts' document counts, in that pass's part order: saved with a position so that a resume
    // can pass over files without reading them.
    private readonly Dictionary<int, List<long>> _partitionCounts = [];

    // One seekable file's seek marks per pass (keyed by the pass's count list).
    private readonly Dictionary<List<long>, List<SeekMark>> _marks = new(ReferenceEqualityComparer.Instance);

    private ResumePlanner _planner;

    internal PositionLog(IDocumentSource source, ResumePlanner planner, Func<ProviderPosition> basis)
    {
        _source = source;
        _planner = planner;
        _basis = basis;
    }

    /// <summary>The planner of the read in progress (a resume pins its shuffle's start).</summary>
    internal void Use(ResumePlanner planner) => Volatile.Write(ref _planner, planner);

    /// <summary>Records that pass <paramref name="epoch"/> begins at <paramref name="startOrdinal"/>.</summary>
    internal void PassStarted(int epoch, long startOrdinal)
    {
        lock (_epochStarts)
        {
            _epochStarts.Add((epoch, startOrdinal));
        }
    }

    /// <summary>The list pass <paramref name="epoch"/> records its finished parts' counts in (older passes are forgotten).</summary>
    internal List<long> CountsOf(int epoch)
    {
        lock (_partitionCounts)
        {
            List<long> counts = _partitionCounts[epoch] = [];
            // A position is taken at most an epoch or two behind the reading: forget older epochs (and their marks).
            foreach (int old in _partitionCounts.Keys.Where(e => e < epoch - 2).ToList())
            {
                lock (_marks)
                {
                    _marks.Remove(_partitionCounts[old]);
                }
                _partitionCounts.Remove(old);
            }
            return counts;
        }
    }

    /// <summary>The list a pass of one seekable file records its seek marks in.</summary>
    internal List<SeekMark> MarksOf(List<long> counts)
    {
        lock (_marks)
        {
            return _marks[counts] = [];
        }
    }

    /// <summary>Appends finished parts' document counts (a unit's, <see cref="PartInterleave"/>), all at once.</summary>
    internal static void Record(List<long>? counts, IEnumerable<long> finished)
    {
        if (counts is not null)
        {
            lock (counts)
            {
                counts.AddRange(finished);
            }
        }
    }

    /// <summary>
    /// The position to resume from so that the next document emitted is the one with <paramref name="ordinal"/>
    /// (as stamped on <see cref="Document.Ordinal"/>). Used to save where the consumer, not the provider, has got to.
    /// </summary>
    public ProviderPosition PositionAt(long ordinal)
    {
        (int epoch, long start) = (0, 0);
        lock (_epochStarts)
        {
            foreach ((int e, long s) in _epochStarts)
            {
                if (s <= ordinal)
                {
                    (epoch, start) = (e, s);
                }
            }
        }
        long[]? counts = null;
        List<SeekMark>? marks = null;
        lock (_partitionCounts)
        {
            if (_partitionCounts.TryGetValue(epoch, out List<long>? list))
            {
                lock (list)
                {
                    counts = [.. list];
                }
                lock (_marks)
                {
                    _marks.TryGetValue(list, out marks);
                }
            }
        }
        // Where the pass stood at the document (replayed from the counts once: it decides both the counts the
        // position keeps and where a resume may seek to).
        ResumePlanner planner = Volatile.Read(ref _planner);
        long emitted = ordinal - start;
        ResumePlan? replay = counts is not null && emitted > 0 ? planner.Plan(epoch, emitted, counts, new SeekMark(0, 0, 0, 1)) : null;
        if (counts is not null)
        {
            counts = ResumePlanner.CountsKnownAt(emitted, counts, replay);
        }
        SeekMark? seek = null;
        if (marks is not null && replay is not null && _source is ISeekableSource { CanSeek: true })
        {
            // The earliest input a resume still needs (the next to come, or the oldest still in the shuffle
            // buffer); the last mark at or before it is where reading can start again.
            long needed = replay.Buffer.Count == 0 ? replay.FirstInput : Math.Min(replay.FirstInput, replay.Buffer.Min());
            lock (marks)
            {
                foreach (SeekMark mark in marks)
                {
                    if (mark.Input <= needed && (seek is null || mark.Input >= seek.Input))
                    {
                        seek = mark;
                    }
                }
            }
        }
        if (seek is not null && _source is ISeekableSource { SeekValidator: { } validator })
        {
            seek = seek with { Validator = validator };
        }
        return _basis() with { Epoch = epoch, EmittedInEpoch = emitted, EmittedTotal = ordinal, PartitionCounts = counts, Seek = seek };
    }
}
