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
    /// Seconds the serial stage of <paramref name="source"/> (opened with <see cref="Only"/>) takes to frame its first
    /// <paramref name="records"/> records, opening the input included; null when the source's format decodes in its
    /// serial stage (it yields documents, not <see cref="Record"/>), so that its serial stage is the whole reader.
    /// </summary>
    public static async Task<double?> SecondsAsync(IDocumentSource source, long records, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        long framed = 0;
        await foreach (Document record in source.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!ReferenceEquals(record, Record))
            {
                return null;
            }
            if (++framed >= records)
            {
                break;
            }
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
