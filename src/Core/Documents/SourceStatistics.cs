using System.Collections.Concurrent;
using System.Diagnostics;

namespace StreamLoader.Core.Documents;

/// <summary>Thread-safe counters a source keeps: what it read, what it yielded and what it skipped, by reason.</summary>
/// <remarks>Nothing is dropped silently: every record a source does not yield is counted under a reason, and the
/// first few examples of each reason are kept so a run report can point at the offending line or offset.</remarks>
public sealed class SourceStatistics
{
    private readonly SourceStatistics? _parent;
    private const int MaxExamplesPerReason = 3;
    private readonly ConcurrentDictionary<string, long> _skipped = new(StringComparer.Ordinal);
    private readonly long _order;
    private readonly Lock _examplesLock = new();
    private readonly Dictionary<string, List<(long[] Key, string Example)>> _examples = new(StringComparer.Ordinal);
    private long _exampleSequence;
    private long _recordsRead;
    private long _documentsYielded;
    private long _bytesRead;
    private long _rawBytesRead;
    private long _resumes;
    private long _rawBytesTotal = -1;
    private readonly Lock _waitingLock = new();
    private string? _waitingWhat;
    private long _waitingSince;

    /// <summary>Counters for a source on its own.</summary>
    public SourceStatistics()
    {
    }

    /// <summary>Counters for one part of a larger source (a file of a set): every count also goes to <paramref name="parent"/>.</summary>
    /// <param name="parent">The larger source's counters.</param>
    /// <param name="order">
    /// The part's place in the larger source (a file's index in its set): the parent keeps the examples that come first
    /// in that order, so parts read at once, whichever counts first, leave the same examples.
    /// </param>
    public SourceStatistics(SourceStatistics parent, long order = 0)
    {
        _parent = parent;
        _order = order;
    }

    /// <summary>Records (lines, rows, pages) read from the underlying input.</summary>
    public long RecordsRead => Interlocked.Read(ref _recordsRead);

    /// <summary>Documents handed on to the consumer.</summary>
    public long DocumentsYielded => Interlocked.Read(ref _documentsYielded);

    /// <summary>Bytes consumed from the underlying input (decompressed where the source is compressed).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Raw (possibly compressed) bytes consumed from the input so far, for progress.</summary>
    public long RawBytesRead => Interlocked.Read(ref _rawBytesRead);

    /// <summary>The input's raw size when known (file length, Content-Length), else null.</summary>
    public long? RawBytesTotal => Interlocked.Read(ref _rawBytesTotal) is long total and >= 0 ? total : null;

    /// <summary>Times a network input's dropped connection was resumed (a <c>Range</c> request from the last byte).</summary>
    public long Resumes => Interlocked.Read(ref _resumes);

    /// <summary>Counts one resumed connection.</summary>
    public void AddResume()
    {
        Interlocked.Increment(ref _resumes);
        _parent?.AddResume();
    }

    /// <summary>Records how far into the raw input the reader is.</summary>
    /// <remarks>A part adds how far it moved to its parent's count; the parent's total is set by whoever knows it.</remarks>
    public void SetRawProgress(long read, long? total)
    {
        long before = Interlocked.Exchange(ref _rawBytesRead, read);
        Interlocked.Exchange(ref _rawBytesTotal, total ?? -1);
        _parent?.AddRawProgress(read - before);
    }

    private void AddRawProgress(long delta)
    {
        Interlocked.Add(ref _rawBytesRead, delta);
        _parent?.AddRawProgress(delta);
    }

    /// <summary>Sets the raw size of the whole input (a file set's sum of sizes) without moving the count.</summary>
    public void SetRawTotal(long? total) => Interlocked.Exchange(ref _rawBytesTotal, total ?? -1);

    /// <summary>
    /// What the source is waiting for and for how long, or null while data is flowing. A network source sets it while
    /// it connects, waits for response headers, or waits for bytes that do not arrive at once, and clears it when data
    /// arrives or it gives up, so a progress display can say why nothing moves (show it once <c>For</c> passes a second
    /// or so; shorter waits are normal network latency).
    /// </summary>
    /// <remarks><c>For</c> counts from the start of the wait, also when what is waited for changes during it (for
    /// example from a dropped connection's reconnect to its first bytes).</remarks>
    public (string What, TimeSpan For)? Waiting
    {
        get
        {
            lock (_waitingLock)
            {
                return _waitingWhat is null ? null : (_waitingWhat, Stopwatch.GetElapsedTime(_waitingSince));
            }
        }
    }

    /// <summary>
    /// Starts or describes a wait (<paramref name="what"/>, for example <c>waiting for data from dumps.wikimedia.org</c>),
    /// or ends it (null). Thread-safe; cheap enough for a read path, but pass a preallocated string.
    /// </summary>
    public void SetWaiting(string? what)
    {
        if (what is null && Volatile.Read(ref _waitingWhat) is null)
        {
            return;
        }
        lock (_waitingLock)
        {
            if (what is not null && _waitingWhat is null)
            {
                _waitingSince = Stopwatch.GetTimestamp();
            }
            Volatile.Write(ref _waitingWhat, what);
        }
        _parent?.SetWaiting(what);
    }

    /// <summary>Total records skipped, over all reasons.</summary>
    public long Skipped
    {
        get
        {
            long total = 0;
            foreach (KeyValuePair<string, long> pair in _skipped)
            {
                total += pair.Value;
            }
            return total;
        }
    }

    /// <summary>Skips by reason (for example <c>namespace</c>, <c>empty_text</c>, <c>malformed_json</c>).</summary>
    public IReadOnlyDictionary<string, long> SkippedByReason => new SortedDictionary<string, long>(_skipped, StringComparer.Ordinal);

    /// <summary>
    /// Up to three examples per skip reason, each naming the input and the line or offset: the first in the source's
    /// order (a part's place, then the order its reader counted them), whatever order parts read at once counted them in.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Examples
    {
        get
        {
            var result = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            lock (_examplesLock)
            {
                foreach (KeyValuePair<string, List<(long[] Key, string Example)>> pair in _examples)
                {
                    result[pair.Key] = pair.Value.Select(e => e.Example).ToArray();
                }
            }
            return result;
        }
    }

    public void AddRecord(long bytes = 0)
    {
        Interlocked.Increment(ref _recordsRead);
        if (bytes != 0)
        {
            Interlocked.Add(ref _bytesRead, bytes);
        }
        _parent?.AddRecord(bytes);
    }

    public void AddYielded()
    {
        Interlocked.Increment(ref _documentsYielded);
        _parent?.AddYielded();
    }

    /// <summary>Counts one skipped record under <paramref name="reason"/>, keeping <paramref name="example"/> if it is among the first few.</summary>
    public void AddSkip(string reason, string? example = null) =>
        Skip(reason, example, example is null ? null : [Interlocked.Increment(ref _exampleSequence)]);

    /// <param name="reason">The reason.</param>
    /// <param name="example">The example, or null.</param>
    /// <param name="key">Where the example stands in this source's order: its part's place at each level, then its number within the part.</param>
    private void Skip(string reason, string? example, long[]? key)
    {
        _skipped.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        if (example is not null)
        {
            Keep(reason, example, key!);
        }
        _parent?.Skip(reason, example, key is null ? null : [_order, .. key]);
    }

    private void Keep(string reason, string example, long[] key)
    {
        lock (_examplesLock)
        {
            if (!_examples.TryGetValue(reason, out List<(long[] Key, string Example)>? kept))
            {
                _examples[reason] = kept = new List<(long[] Key, string Example)>(MaxExamplesPerReason);
            }
            if (kept.Count == MaxExamplesPerReason)
            {
                if (Compare(key, kept[^1].Key) >= 0)
                {
                    return;
                }
                kept.RemoveAt(kept.Count - 1);
            }
            int at = kept.Count;
            while (at > 0 && Compare(key, kept[at - 1].Key) < 0)
            {
                at--;
            }
            kept.Insert(at, (key, example));
        }
    }

    private static int Compare(long[] a, long[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            int c = a[i].CompareTo(b[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return a.Length.CompareTo(b.Length);
    }
}
