using System.Runtime.CompilerServices;

namespace StreamLoader.Provider.Decoding;

/// <summary>
/// The provider's one parallel stage: a serial framer hands over chunks of records (bytes with their positions), a
/// pool of threads decodes each chunk in place, and the chunks come back in the framer's order, so everything that
/// follows (skip accounting, pairing, sharding, the shuffle, resume) sees exactly what a serial decode would give.
/// </summary>
/// <remarks>
/// <para>
/// With one thread nothing leaves the caller's thread: each chunk is decoded inline, which is the serial decode the
/// parallel one is tested against. With more, chunks run ahead on the thread pool, at most
/// <c>2 × threads</c> in flight, so memory stays bounded by that many chunks whatever the input's size.
/// </para>
/// <para>
/// A failure keeps its place in the order: a chunk whose decode threw rethrows when its turn comes, after every
/// chunk before it; a framer that throws (a truncated archive, a dropped connection) fails once the chunks it framed
/// before have been handed on. A consumer that stops early waits for the chunks in flight and disposes them, so no
/// decode outlives the read and no pooled buffer is returned while a thread still uses it.
/// </para>
/// </remarks>
public static class OrderedDecode
{
    /// <summary>
    /// Decodes each chunk <paramref name="framed"/> yields with <paramref name="decode"/> on up to
    /// <paramref name="threads"/> threads, and yields the chunks in order. The consumer owns each yielded chunk (and
    /// disposes it); chunks not yet yielded are disposed here.
    /// </summary>
    /// <param name="framed">The serial stage's chunks, in order.</param>
    /// <param name="decode">Decodes one chunk in place; it must touch nothing but the chunk and immutable state.</param>
    /// <param name="threads">Decode threads; 1 decodes inline on the caller's thread.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    public static async IAsyncEnumerable<TChunk> RunAsync<TChunk>(IAsyncEnumerable<TChunk> framed, Action<TChunk> decode, int threads, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TChunk : IDisposable
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (threads == 1)
        {
            await foreach (TChunk chunk in framed.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    decode(chunk);
                }
                catch
                {
                    chunk.Dispose();
                    throw;
                }
                yield return chunk;
            }
            yield break;
        }

        int depth = 2 * threads;
        var inFlight = new Queue<(TChunk Chunk, Task Decoding)>(depth);
        IAsyncEnumerator<TChunk> frames = framed.GetAsyncEnumerator(cancellationToken);
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? framerFailure = null;
        bool framing = true;
        try
        {
            while (true)
            {
                while (framing && inFlight.Count < depth)
                {
                    try
                    {
                        framing = await frames.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        // Handed on after the chunks framed before it.
                        framerFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex);
                        framing = false;
                        break;
                    }
                    if (framing)
                    {
                        TChunk chunk = frames.Current;
                        inFlight.Enqueue((chunk, Task.Run(() => decode(chunk), CancellationToken.None)));
                    }
                }
                if (inFlight.Count == 0)
                {
                    framerFailure?.Throw();
                    yield break;
                }
                (TChunk next, Task decoding) = inFlight.Peek();
                await decoding.ConfigureAwait(false);
                inFlight.Dequeue();
                yield return next;
            }
        }
        finally
        {
            // Stopped early or failed: let the decodes in flight finish before their chunks' buffers go back.
            while (inFlight.TryDequeue(out (TChunk Chunk, Task Decoding) left))
            {
                try
                {
                    await left.Decoding.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A later chunk's failure is not this read's error: an earlier one, or the consumer's stop, is.
                }
                left.Chunk.Dispose();
            }
            await frames.DisposeAsync().ConfigureAwait(false);
        }
    }
}
