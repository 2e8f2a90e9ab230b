using System.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Decoding;

/// <summary>
/// The provider's serial stage, measured alone: what a reader must do on one thread (read, decompress, frame records
/// with their positions) without the decode that runs on workers. <c>bench</c> reads it against the tokenizer's speed
/// per thread to say how many tokenizer threads the provider can feed.
/// </summary>
public static class SerialStage
{
    /// <summary>The stand-in a source yields for a framed, undecoded record when only its serial stage runs; never a document of a real read.</summary>
    public static readonly Document Record = new(string.Empty, string.Empty);

    /// <summary>
    /// The settings that run only the serial stage of <paramref name="settings"/>' sources, one part at a time: parts
    /// read ahead are handed on whole and in order, so a part being read ahead only helps while its buffer has room,
    /// and the stage's pace over a long part is one part's.
    /// </summary>
    public static SourceSettings Only(SourceSettings settings) => settings with { Lines = settings.Lines with { SerialStageOnly = true, PartsAtOnce = 1 } };

    /// <summary>
    /// The settings that do everything on the reading thread, one part at a time: the whole provider on one thread, so
    /// its time is its CPU per record.
    /// </summary>
    public static SourceSettings OneThread(SourceSettings settings) => settings with { Lines = settings.Lines with { DecodeThreads = 1, PartsAtOnce = 1 } };

    /// <summary>
    /// How long the serial stage of <paramref name="source"/> (opened with <see cref="Only"/>) takes over its first
    /// <paramref name="records"/> records, as a stream reads them. One file has one reading thread, timed as it is. A
    /// many-part source whose stream reads <paramref name="interleave"/> parts together
    /// (<see cref="Streaming.PartInterleave"/>) has a reading thread per part: each part's serial stage is timed alone,
    /// one after another, and the parts read together are taken to run side by side, each on a core of its own, so a
    /// unit of parts takes as long as its slowest part. For a format that decodes on its reading thread (it yields
    /// documents, not <see cref="Record"/>), that is the whole reader.
    /// </summary>
    public static async Task<SerialStageTime> TimeAsync(IDocumentSource source, long records, int interleave, CancellationToken cancellationToken)
    {
        if (source is not IPartitionedSource { PartitionCount: > 1 } parts || interleave <= 1)
        {
            (double seconds, _, bool decodes) = await TimePartAsync(source.ReadAsync(cancellationToken), records).ConfigureAwait(false);
            return new SerialStageTime(seconds, seconds, 1, decodes);
        }
        // Parts in index order, the first `records` records: the unit of `interleave` parts ends at its slowest.
        double scheduled = 0;
        double oneAtATime = 0;
        double unitSlowest = 0;
        int inUnit = 0;
        int readers = 0;
        bool anyDecodes = false;
        long left = records;
        for (int part = 0; part < parts.PartitionCount && left > 0; part++)
        {
            (double seconds, long framed, bool decodes) = await TimePartAsync(parts.ReadPartitionAsync(part, cancellationToken), left).ConfigureAwait(false);
            anyDecodes |= decodes;
            left -= framed;
            oneAtATime += seconds;
            unitSlowest = Math.Max(unitSlowest, seconds);
            readers = Math.Max(readers, ++inUnit);
            if (inUnit == interleave)
            {
                scheduled += unitSlowest;
                (unitSlowest, inUnit) = (0, 0);
            }
        }
        return new SerialStageTime(scheduled + unitSlowest, oneAtATime, readers, anyDecodes);
    }

    /// <summary>Times one read until it ends or has framed <paramref name="records"/> records, opening included.</summary>
    private static async Task<(double Seconds, long Framed, bool Decodes)> TimePartAsync(IAsyncEnumerable<Document> read, long records)
    {
        long start = Stopwatch.GetTimestamp();
        long framed = 0;
        bool decodes = false;
        await foreach (Document record in read.ConfigureAwait(false))
        {
            decodes |= !ReferenceEquals(record, Record);
            if (++framed >= records)
            {
                break;
            }
        }
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, framed, decodes);
    }
}

/// <summary>The provider's serial stage, timed (<see cref="SerialStage.TimeAsync"/>).</summary>
/// <param name="Seconds">Its time as the stream reads: the parts read together side by side, each on a core of its own.</param>
/// <param name="OneAtATimeSeconds">The same parts read one after another on one thread.</param>
/// <param name="Readers">Reading threads side by side: 1 for one file, else the parts read together (at most the interleave).</param>
/// <param name="Decodes">True when the format decodes on its reading thread, so its serial stage is the whole reader.</param>
public sealed record SerialStageTime(double Seconds, double OneAtATimeSeconds, int Readers, bool Decodes);
