using System.Runtime.CompilerServices;
using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// A run of consecutive parts of a pass's order that a rank reads together, interleaved: <see cref="Reads"/> are the
/// parts it reads (at most the interleave's width), the others in <c>[Start, End)</c> are other ranks' files, which it
/// passes over. The pass's inputs are the units' inputs, one unit after another.
/// </summary>
/// <param name="Start">The unit's first position in the pass's order.</param>
/// <param name="End">The position after its last.</param>
/// <param name="Reads">The positions it reads, in order.</param>
internal readonly record struct PartUnit(int Start, int End, int[] Reads);

/// <summary>
/// How a stream reads a many-part source several parts at a time and still in one order that depends only on the
/// settings: the pass's parts are grouped into units of <c>width</c> parts (<see cref="UnitsOf"/>), and a unit's parts
/// are read at once and taken in turns of a few documents each (<see cref="DefaultTurn"/>; <see cref="TakeAsync"/>). A unit's inputs are
/// then contiguous in the pass, so a resume reasons about units as it did about parts read one at a time, and with a
/// width of 1 a unit is one part and the stream is the part-by-part stream.
/// </summary>
/// <remarks>
/// The order depends on the parts' documents alone (how many each has), never on how fast each part is read, how many
/// are read ahead, or the machine: <c>--parts-at-once</c> and <c>--decode-threads</c> leave it unchanged.
/// </remarks>
internal static class PartInterleave
{
    /// <summary>Documents a part yields in its turn before the next part of its unit takes one, unless set otherwise.</summary>
    public const int DefaultTurn = 64;

    /// <summary>The width a stream of <paramref name="source"/> uses: <paramref name="width"/>, or 1 for a source whose parts are not interleaved (<see cref="IPartitionedSource.Interleaves"/>).</summary>
    public static int WidthFor(IDocumentSource source, int width) => source is IPartitionedSource { Interleaves: false } ? 1 : width;

    /// <summary>
    /// The units of a pass of <paramref name="partCount"/> parts: the positions a rank reads (its own files when ranks
    /// split by file, else all) grouped <paramref name="width"/> at a time; other ranks' files belong to the unit before
    /// them (the first unit when they come first, which then reads nothing). A unit's counts are recorded when it ends,
    /// so a saved position's counts always end at a unit's end.
    /// </summary>
    public static List<PartUnit> UnitsOf(int partCount, ShardLayout layout, bool byFile, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var units = new List<PartUnit>();
        var reads = new List<int>(width);
        int start = 0;
        for (int position = 0; position < partCount; position++)
        {
            if (byFile && !layout.OwnsFile(position))
            {
                continue;
            }
            if (reads.Count == width || (reads.Count == 0 && position > start))
            {
                units.Add(new PartUnit(start, position, [.. reads]));
                reads.Clear();
                start = position;
            }
            reads.Add(position);
        }
        units.Add(new PartUnit(start, partCount, [.. reads]));
        return units;
    }

    /// <summary>
    /// A unit's documents: its parts opened in order from <paramref name="reader"/>, each at its first turn, and taken
    /// in turns of <paramref name="turn"/> documents, slot 0 to the last and round again; a part that ends leaves the turns.
    /// Each document comes with its slot (the part's index in <paramref name="parts"/>) and its index within its part;
    /// <paramref name="counts"/> holds each slot's documents so far.
    /// </summary>
    public static async IAsyncEnumerable<(Document Document, int Slot, long InPart)> TakeAsync(PartReader reader, IReadOnlyList<int> parts, int turn, long[] counts, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var open = new IAsyncEnumerator<Document>?[parts.Count];
        var live = new List<int>(Enumerable.Range(0, parts.Count));
        try
        {
            while (live.Count > 0)
            {
                for (int at = 0; at < live.Count;)
                {
                    int slot = live[at];
                    IAsyncEnumerator<Document> documents = open[slot] ??= reader.Open(parts[slot]).GetAsyncEnumerator(cancellationToken);
                    int taken = 0;
                    bool ended = false;
                    while (taken < turn)
                    {
                        if (!await documents.MoveNextAsync().ConfigureAwait(false))
                        {
                            ended = true;
                            break;
                        }
                        taken++;
                        yield return (documents.Current, slot, counts[slot]++);
                    }
                    if (ended)
                    {
                        open[slot] = null;
                        await documents.DisposeAsync().ConfigureAwait(false);
                        live.RemoveAt(at);
                    }
                    else
                    {
                        at++;
                    }
                }
            }
        }
        finally
        {
            // Every part left open is closed, even when closing one fails (its error is handed on after).
            Exception? failed = null;
            foreach (IAsyncEnumerator<Document>? left in open)
            {
                try
                {
                    if (left is not null)
                    {
                        await left.DisposeAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    failed ??= ex;
                }
            }
            if (failed is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
            }
        }
    }
}
