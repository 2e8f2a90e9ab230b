namespace StreamLoader.Tasks.Common;

/// <summary>Cuts a document's ids into consecutive windows of at most a given width, none dropped.</summary>
public static class TokenWindows
{
    /// <summary>The (offset, length) of each window of <paramref name="count"/> ids; none for an empty document.</summary>
    public static IEnumerable<(int Offset, int Length)> Cut(int count, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        for (int offset = 0; offset < count; offset += width)
        {
            yield return (offset, Math.Min(width, count - offset));
        }
    }
}
