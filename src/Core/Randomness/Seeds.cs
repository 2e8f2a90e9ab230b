namespace StreamLoader.Core.Randomness;

/// <summary>Deterministic seed derivation. (<see cref="HashCode"/> is randomized per process, so it cannot be used.)</summary>
public static class Seeds
{
    /// <summary>Mixes a base seed with stream identifiers (epoch, worker, purpose) into a new 31-bit seed, SplitMix64-style.</summary>
    public static int Derive(int seed, long a, long b = 0)
    {
        ulong x = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
        x = Mix(x ^ unchecked((ulong)a));
        x = Mix(x ^ unchecked((ulong)b * 0xBF58476D1CE4E5B9UL));
        return (int)(x & 0x7FFFFFFF);
    }

    /// <summary>A stable 64-bit hash of <paramref name="text"/> under <paramref name="seed"/> (FNV-1a, then mixed).</summary>
    public static ulong Hash(int seed, ReadOnlySpan<char> text)
    {
        ulong h = 14695981039346656037UL ^ unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
        foreach (char c in text)
        {
            h = unchecked((h ^ c) * 1099511628211UL);
        }
        return Mix(h);
    }

    private static ulong Mix(ulong z)
    {
        z = unchecked(z + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
