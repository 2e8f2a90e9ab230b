using System.Globalization;
using System.Text;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// A set of batch sequences kept as ranges ("0-41,44,46-90"): how a loader reports which batches each consumer
/// acknowledged, and a consumer which it received, in a few bytes however long the stream. Thread-safe.
/// </summary>
public sealed class SequenceRanges
{
    private readonly SortedDictionary<long, long> _ranges = []; // start → end, inclusive, disjoint, not touching
    private long _count;
    private long _lastStart;
    private long _lastEnd;

    /// <summary>Sequences held.</summary>
    public long Count
    {
        get
        {
            lock (_ranges)
            {
                return _count;
            }
        }
    }

    /// <summary>Adds <paramref name="sequence"/>; false when it was there already.</summary>
    public bool Add(long sequence)
    {
        lock (_ranges)
        {
            // Sequences come nearly in order: extending or following the last range is the common case.
            if (_ranges.Count == 0 || sequence > _lastEnd + 1)
            {
                _ranges[sequence] = sequence;
                (_lastStart, _lastEnd) = (sequence, sequence);
                _count++;
                return true;
            }
            if (sequence == _lastEnd + 1)
            {
                _ranges[_lastStart] = _lastEnd = sequence;
                _count++;
                return true;
            }
            long? before = null;
            foreach ((long start, long end) in _ranges)
            {
                if (start > sequence)
                {
                    break;
                }
                if (sequence >= start && sequence <= end)
                {
                    return false;
                }
                before = start;
            }
            _count++;
            long newStart = sequence;
            long newEnd = sequence;
            if (before is long s && _ranges[s] == sequence - 1)
            {
                newStart = s;
                _ranges.Remove(s);
            }
            if (_ranges.Remove(sequence + 1, out long after))
            {
                newEnd = after;
            }
            _ranges[newStart] = newEnd;
            if (newEnd >= _lastEnd)
            {
                (_lastStart, _lastEnd) = (newStart, newEnd);
            }
            return true;
        }
    }

    /// <summary>"0-41,44,46-90" (empty for none).</summary>
    public override string ToString()
    {
        lock (_ranges)
        {
            var text = new StringBuilder();
            foreach ((long start, long end) in _ranges)
            {
                text.Append(text.Length > 0 ? "," : string.Empty).Append(start.ToString(CultureInfo.InvariantCulture));
                if (end > start)
                {
                    text.Append('-').Append(end.ToString(CultureInfo.InvariantCulture));
                }
            }
            return text.ToString();
        }
    }

    /// <summary>Reads <see cref="ToString"/>'s text back into its sequences.</summary>
    public static IEnumerable<long> Parse(string text)
    {
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', 1);
            long start = long.Parse(dash < 0 ? part : part[..dash], CultureInfo.InvariantCulture);
            long end = dash < 0 ? start : long.Parse(part[(dash + 1)..], CultureInfo.InvariantCulture);
            for (long s = start; s <= end; s++)
            {
                yield return s;
            }
        }
    }
}
