using System.Globalization;

namespace StreamLoader.Core.Tensors;

/// <summary>Numbers as metadata text: small ones (counts, offsets, lengths) made once and reused, so stamping a batch allocates nothing for them.</summary>
public static class MetadataText
{
    private const int Cached = 1 << 14;
    private static readonly string?[] s_small = new string?[Cached];

    /// <summary><paramref name="value"/> in invariant decimal.</summary>
    public static string Of(long value)
    {
        if ((ulong)value >= Cached)
        {
            return value.ToString(CultureInfo.InvariantCulture);
        }
        return s_small[value] ??= value.ToString(CultureInfo.InvariantCulture);
    }
}
