using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// Reads the parts of a partitioned source (the files of a set, the row groups of a Parquet file) in a given order,
/// several at once: while the consumer takes part i's documents, parts i+1 … i+n−1 are already being read, each on
/// its own, into a small bounded buffer. The consumer still sees each part whole and in the given order, so the
/// stream, its shuffle and every resume are those of reading one part at a time.
/// </summary>
/// <remarks>
/// With one part at a time nothing is read ahead: each part is read when its turn comes, as before. A part that
/// fails hands its error on when its turn comes, after the parts before it. A consumer that stops early cancels the
/// parts read ahead and waits for them, so no read outlives the stream.
/// </remarks>
internal static class PartReadAhead
{
    /// <summary>Most documents each part read ahead holds before its reader waits.</summary>
    private const int BufferedDocuments = 4096;

    /// <summary>Most characters of text each part read ahead holds before its reader waits (one document is always let through).</summary>
    private const long BufferedChars = 4L << 20;

    /// <summary>
    /// The parts <paramref name="order"/> names, each as its documents, read up to <paramref name="atOnce"/> at once.
    /// Each yielded part must be read to its end (or the whole read stopped) before the next is asked for.
    /// </summary>
    public static async IAsyncEnumerable<(int Part, IAsyncEnumerable<Document> Documents)> PartsAsync(IPartitionedSource source, IReadOnlyList<int> order, int atOnce, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (atOnce <= 1)
        {
            foreach (int part in order)
            {
                yield return (part, source.ReadPartitionAsync(part, cancellationToken));
            }
            yield break;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = new Queue<(int Part, PartBuffer Buffer, Task Reader)>(atOnce);
        int next = 0;
        try
        {
            // Starts parts up to the limit. The first part of the read starts alone, and the others once it has
            // handed on its first document: reading ahead must not delay the first batch.
            void StartParts()
            {
                while (reading.Count < atOnce && next < order.Count)
                {
                    int part = order[next++];
                    var buffer = new PartBuffer();
                    reading.Enqueue((part, buffer, Task.Run(() => ReadIntoAsync(source, part, buffer, stop.Token), CancellationToken.None)));
                }
            }

            while (true)
            {
                if (reading.Count == 0 && next < order.Count)
                {
                    int part = order[next++];
                    var buffer = new PartBuffer();
                    reading.Enqueue((part, buffer, Task.Run(() => ReadIntoAsync(source, part, buffer, stop.Token), CancellationToken.None)));
                }
                if (!reading.TryPeek(out (int Part, PartBuffer Buffer, Task Reader) current))
                {
                    yield break;
                }
                yield return (current.Part, DrainAsync(current.Buffer, current.Reader, StartParts, cancellationToken));
                reading.Dequeue().Buffer.Dispose();
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            while (reading.TryDequeue(out (int Part, PartBuffer Buffer, Task Reader) left))
            {
                try
                {
                    await left.Reader.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Stopped, or a part after the one that ended the read failed: not this read's error.
                }
                left.Buffer.Dispose();
            }
        }
    }

    /// <summary>A part's documents as its reader buffered them, then its reader's error, if any, before the part ends.</summary>
    /// <param name="buffer">The part's documents.</param>
    /// <param name="reader">The part's reader, awaited at the end for its error.</param>
    /// <param name="readAhead">Starts the parts after it, once it has handed on its first document (or ended).</param>
    /// <param name="cancellationToken">Stops taking.</param>
    private static async IAsyncEnumerable<Document> DrainAsync(PartBuffer buffer, Task reader, Action readAhead, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        bool started = false;
        await foreach (Document document in buffer.Documents.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            buffer.Taken(document);
            if (!started)
            {
                started = true;
                readAhead();
            }
            yield return document;
        }
        if (!started)
        {
            readAhead();
        }
        await reader.ConfigureAwait(false);
    }

    private static async Task ReadIntoAsync(IPartitionedSource source, int part, PartBuffer buffer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (Document document in source.ReadPartitionAsync(part, cancellationToken).ConfigureAwait(false))
            {
                await buffer.PutAsync(document, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // The consumer's drain ends here, then awaits this task for the error, if any.
            buffer.Documents.Writer.TryComplete();
        }
    }

    /// <summary>One part's documents read ahead, bounded by count and by characters of text.</summary>
    private sealed class PartBuffer : IDisposable
    {
        private readonly SemaphoreSlim _space = new(0);
        private long _chars;

        public Channel<Document> Documents { get; } = Channel.CreateBounded<Document>(new BoundedChannelOptions(BufferedDocuments) { SingleReader = true, SingleWriter = true });

        public async ValueTask PutAsync(Document document, CancellationToken cancellationToken)
        {
            long size = Math.Max(1, document.Length);
            while (Interlocked.Read(ref _chars) is > 0 and long held && held + size > BufferedChars)
            {
                await _space.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            Interlocked.Add(ref _chars, size);
            await Documents.Writer.WriteAsync(document, cancellationToken).ConfigureAwait(false);
        }

        public void Taken(Document document)
        {
            Interlocked.Add(ref _chars, -Math.Max(1, document.Length));
            if (_space.CurrentCount == 0)
            {
                _space.Release();
            }
        }

        public void Dispose() => _space.Dispose();
    }
}
