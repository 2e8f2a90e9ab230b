using System.Security.Cryptography;

namespace StreamLoader.Provider.Input;

/// <summary>Says what an input is rather than how it was named, so a saved position can be matched to its input.</summary>
/// <remarks>
/// A local file is described by its length and a SHA-256 of its first and last 64 KiB: the same file reached by a
/// relative path, an absolute path, a symbolic link or a copy gets the same description, and a different or changed
/// file (other length, other head or tail) a different one, for the cost of reading at most 128 KiB. An http(s) URL
/// is described by the URL itself, normalized.
/// </remarks>
public static class InputIdentity
{
    private const int SampleBytes = 64 << 10;

    /// <summary>
    /// <c>file:&lt;length&gt;:&lt;sha256 hex&gt;</c> for a local file; the normalized absolute URL for an http(s) URL.
    /// </summary>
    /// <exception cref="FileNotFoundException">The location is not a URL and no such file exists.</exception>
    public static string Describe(string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        if (TryParseHttpUrl(location, out Uri? uri))
        {
            return uri.AbsoluteUri;
        }
        if (!File.Exists(location))
        {
            throw new FileNotFoundException($"{location}: no such file.", location);
        }

        using var file = new FileStream(location, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        long length = file.Length;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] sample = new byte[SampleBytes];
        HashRange(file, 0, (int)Math.Min(length, SampleBytes), sample, hash);
        long tailStart = Math.Max(SampleBytes, length - SampleBytes);
        HashRange(file, tailStart, (int)(length - tailStart), sample, hash);
        return $"file:{length}:{Convert.ToHexStringLower(hash.GetHashAndReset())}";
    }

    /// <summary>True when <paramref name="location"/> is an absolute http or https URL.</summary>
    internal static bool TryParseHttpUrl(string location, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Uri? uri) =>
        Uri.TryCreate(location, UriKind.Absolute, out uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static void HashRange(FileStream file, long offset, int count, byte[] scratch, IncrementalHash hash)
    {
        if (count <= 0)
        {
            return;
        }
        file.Position = offset;
        file.ReadExactly(scratch, 0, count);
        hash.AppendData(scratch, 0, count);
    }
}
