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
    /// many-part source whose stream takes <paramref name="interleave"/> parts in turns
    /// (<see cref="Streaming.PartInterleave"/>) reads up to <paramref name="partsAtOnce"/> of a unit's parts on readers
    /// of their own and the rest one after another on the stream's thread (<see cref="Streaming.PartReader"/>): each
    /// part's serial stage is timed alone, one after another, and a unit is taken to last as long as the longer of its
    /// slowest part with a reader of its own and the parts read on the stream's thread together, each of those threads
    /// on a core of its own.
    /// </summary>
    /// <param name="source">The source, opened with <see cref="Only"/> (and <see cref="OneThread"/> to time a format that decodes on its reading thread).</param>
    /// <param name="records">Records to time.</param>
    /// <param name="interleave">The stream's <c>--interleave</c>.</param>
    /// <param name="partsAtOnce">The stream's parts read at once on readers of their own (<c>--parts-at-once</c>, resolved).</param>
    /// <param name="whole">Time a format that decodes on its reading thread too; false returns at once for such a format, with <see cref="SerialStageTime.Decodes"/> set.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    public static async Task<SerialStageTime> TimeAsync(IDocumentSource source, long records, int interleave, int partsAtOnce, bool whole, CancellationToken cancellationToken)
    {
        int width = Streaming.PartInterleave.WidthFor(source, interleave);
        if (source is not IPartitionedSource { PartitionCount: > 1 } parts || width <= 1)
        {
            (double seconds, _, bool decodes) = await TimePartAsync(source.ReadAsync(cancellationToken), records, whole).ConfigureAwait(false);
            return decodes && !whole ? new SerialStageTime(0, 0, 1, Decodes: true) : new SerialStageTime(seconds, seconds, 1, decodes);
        }
        int background = partsAtOnce <= 1 ? 0 : Math.Min(partsAtOnce, width);
        double scheduled = 0;
        double oneAtATime = 0;
        int readers = 1;
        bool anyDecodes = false;
        long left = records;
        var unit = new List<double>(width);
        for (int part = 0; part < parts.PartitionCount && left > 0; part++)
        {
            (double seconds, long framed, bool decodes) = await TimePartAsync(parts.ReadPartitionAsync(part, cancellationToken), left, whole).ConfigureAwait(false);
            if (decodes && !whole)
            {
                return new SerialStageTime(0, 0, 1, Decodes: true);
            }
            anyDecodes |= decodes;
            left -= framed;
            oneAtATime += seconds;
            unit.Add(seconds);
            if (unit.Count == width || left <= 0 || part == parts.PartitionCount - 1)
            {
                // The first parts of a unit have readers of their own; the rest are read on the stream's thread.
                double slowestReader = unit.Take(background).DefaultIfEmpty(0).Max();
                double streamThread = unit.Skip(background).Sum();
                scheduled += Math.Max(slowestReader, streamThread);
                readers = Math.Max(readers, Math.Min(background, unit.Count) + (unit.Count > background ? 1 : 0));
                unit.Clear();
            }
        }
        return new SerialStageTime(scheduled, oneAtATime, readers, anyDecodes);
    }

    /// <summary>Times one read until it ends or has framed <paramref name="records"/> records, opening included; without <paramref name="whole"/>, stops at a first record that is a document.</summary>
    private static async Task<(double Seconds, long Framed, bool Decodes)> TimePartAsync(IAsyncEnumerable<Document> read, long records, bool whole)
    {
        long start = Stopwatch.GetTimestamp();
        long framed = 0;
        bool decodes = false;
        await foreach (Document record in read.ConfigureAwait(false))
        {
            if (!ReferenceEquals(record, Record))
            {
                decodes = true;
                if (!whole)
                {
                    break;
                }
            }
            if (++framed >= records)
            {
                break;
            }
        }
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, framed, decodes);
    }
}

/// <summary>The provider's serial stage, timed (<see cref="SerialStage.TimeAsync"/>).</summary>
/// <param name="Seconds">Its time as the stream reads: the reading threads side by side, each on a core of its own.</param>
/// <param name="OneAtATimeSeconds">The same parts read one after another on one thread.</param>
/// <param name="Readers">Reading threads side by side: 1 for one file; for parts taken in turns, the parts on readers of their own, and the stream's thread when it reads some.</param>
/// <param name="Decodes">True when the format decodes on its reading thread, so its serial stage is the whole reader.</param>
public sealed record SerialStageTime(double Seconds, double OneAtATimeSeconds, int Readers, bool Decodes);
