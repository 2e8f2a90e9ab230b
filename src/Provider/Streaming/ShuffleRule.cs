using StreamLoader.Core.Randomness;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// What the streaming shuffle buffer does with each arriving document: keep it (the buffer grows) or emit a random
/// one of those it holds and keep the new one in its slot. The stream and the resume planner both ask this one rule,
/// so a resume rebuilds exactly the buffer the interrupted run had.
/// </summary>
/// <remarks>
/// A buffer of <see cref="Size"/> documents that waited to be full before its first pick would hold back the first
/// batch until <see cref="Size"/> documents were read (the whole of a corpus smaller than that). Instead the buffer
/// starts picking once it holds <see cref="Start"/> documents and, while it fills, picks on every other arrival, so
/// it keeps growing: it is full after <c>2 × Size − Start</c> arrivals, and from then on it is the classic buffer,
/// every document a uniform pick of <see cref="Size"/>. Each pick is uniform over what the buffer holds; what depends
/// on the start is only how many documents the first picks are drawn from. The rule depends on nothing but the
/// arrival count and the seeded generator, so the order is as reproducible and as exactly resumable as before.
/// <see cref="Start"/> equal to <see cref="Size"/> is the classic buffer that fills first.
/// </remarks>
internal readonly struct ShuffleRule
{
    public ShuffleRule(int size, int start)
    {
        Size = size;
        Start = Math.Clamp(start, 1, Math.Max(1, size));
    }

    /// <summary>The buffer's capacity in documents.</summary>
    public int Size { get; }

    /// <summary>Documents the buffer holds before its first pick.</summary>
    public int Start { get; }

    /// <summary>The default start: 16 documents (all of a smaller buffer), so the first batch waits for a few documents, not the buffer.</summary>
    public static int DefaultStart(int size) => Math.Min(size, 16);

    /// <summary>
    /// For the pass's input number <paramref name="input"/> arriving at a buffer that holds <paramref name="count"/>
    /// documents: the slot whose document leaves now (the arriving one takes its place), or -1 to keep it as well.
    /// </summary>
    public int Next(ref Xoshiro256 random, long input, int count)
    {
        if (count < Start)
        {
            return -1;
        }
        if (count < Size)
        {
            // Filling: pick on every other arrival, so the buffer grows by one every two.
            return (input - Start) % 2 == 0 ? random.NextInt32(count) : -1;
        }
        return random.NextInt32(Size);
    }
}
