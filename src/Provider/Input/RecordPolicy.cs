using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Input;

/// <summary>What a reader does with a record it cannot use.</summary>
public enum BadRecordPolicy
{
    /// <summary>Count it under a reason, keep an example, and go on.</summary>
    Skip,

    /// <summary>Stop with an error that names the input and the line.</summary>
    Fail,
}

/// <summary>Settings every line-oriented reader shares.</summary>
public sealed record LineReaderOptions
{
    /// <summary>What to do with malformed, invalid-UTF-8 or oversized records.</summary>
    public BadRecordPolicy OnBadRecord { get; init; } = BadRecordPolicy.Skip;

    /// <summary>Longest line kept, in bytes; longer ones are skipped and counted as <c>oversized</c>.</summary>
    public int MaxLineBytes { get; init; } = 256 << 20;

    /// <summary>After this many bad records in a row the input is judged to be the wrong format and the read fails.</summary>
    public int MaxConsecutiveBadRecords { get; init; } = 100;

    /// <summary>
    /// Yield records whose text is empty (or only whitespace) as documents instead of skipping them as
    /// <c>empty_text</c>: inference gives every record its output row, and marks those it could not classify.
    /// </summary>
    public bool KeepEmptyText { get; init; }

    /// <summary>
    /// Threads that decode records (UTF-8 checks, JSON parsing and unescaping, a Wikipedia page's wikitext into prose)
    /// and decompress zstd frames and bzip2 streams, beside the serial stage that reads and frames them; 0 (the
    /// default) means one per core, 1 does it all on the reading thread. The documents, their order and every skip are
    /// the same whatever the number.
    /// </summary>
    public int DecodeThreads { get; init; }

    /// <summary>
    /// Parts of a many-part source (the files of a set, a Parquet file's row groups) read at once, each ahead of its
    /// turn; 0 (the default) means one per two cores, at least two. The documents and their order do not change with it.
    /// </summary>
    public int PartsAtOnce { get; init; }

    /// <summary>The decode threads <see cref="DecodeThreads"/> asks for: 0 means one per core.</summary>
    public int DecodeThreadCount => DecodeThreads > 0 ? DecodeThreads : Environment.ProcessorCount;

    /// <summary>The parts read at once <see cref="PartsAtOnce"/> asks for: 0 means one per two cores, at least two.</summary>
    public int PartsAtOnceCount => PartsAtOnce > 0 ? PartsAtOnce : Math.Max(2, Environment.ProcessorCount / 2);

    /// <summary>
    /// For measurement only (<c>bench</c>): run the serial stage alone, reading and framing every record without
    /// decoding it, and yield <see cref="Decoding.SerialStage.Record"/> for each.
    /// </summary>
    public bool SerialStageOnly { get; init; }
}

/// <summary>Applies a <see cref="LineReaderOptions"/> policy: counts skips and decides when skipping must become an error.</summary>
internal sealed class BadRecordTracker
{
    private readonly string _source;
    private readonly string _format;
    private readonly LineReaderOptions _options;
    private readonly SourceStatistics _statistics;
    private int _consecutive;

    public BadRecordTracker(string source, string format, LineReaderOptions options, SourceStatistics statistics)
    {
        _source = source;
        _format = format;
        _options = options;
        _statistics = statistics;
    }

    public void Good() => _consecutive = 0;

    /// <summary>Counts a bad record, or throws when the policy or the run of bad records says so.</summary>
    public void Bad(string reason, long line, long offset, string detail)
    {
        string location = $"line {line} (byte offset {offset})";
        if (_options.OnBadRecord == BadRecordPolicy.Fail)
        {
            throw new SourceFormatException(_source, location, $"{reason}: {detail}");
        }
        _statistics.AddSkip(reason, $"{_source}: {location}: {detail}");
        if (++_consecutive >= _options.MaxConsecutiveBadRecords)
        {
            throw new SourceFormatException(_source, location, $"{_consecutive} records in a row could not be read as {_format} (last: {reason}: {detail}). Is this the right file and --source-format, and does --text-column name the text?");
        }
    }
}
