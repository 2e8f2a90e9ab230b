using System.Collections.Concurrent;
using ICSharpCode.SharpZipLib.GZip;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>An opened input (file or URL), decompressed if needed, that knows how far into the raw bytes it is.</summary>
public sealed class OpenedInput : IDisposable
{
    private readonly CountingStream _raw;

    private OpenedInput(string name, CountingStream raw, Stream content, long? rawLength, string compression)
    {
        Name = name;
        _raw = raw;
        Content = content;
        RawLength = rawLength;
        Compression = compression;
    }

    /// <summary>The path or URL.</summary>
    public string Name { get; }

    /// <summary>The decompressed bytes.</summary>
    public Stream Content { get; }

    /// <summary>Raw (possibly compressed) bytes consumed so far: the offset errors name and progress uses.</summary>
    public long RawBytesRead => _raw.BytesRead;

    /// <summary>Total raw bytes, when known (file size or Content-Length).</summary>
    public long? RawLength { get; }

    /// <summary>"gzip" or "none".</summary>
    public string Compression { get; }

    /// <summary>Opens a local path or an http(s) URL. Gzip is detected from the first two bytes, not the name.</summary>
    /// <param name="location">A local path or an http(s) URL.</param>
    /// <param name="http">The client for URLs; null uses a shared one that applies <see cref="HttpReadOptions.ConnectTimeout"/>.</param>
    /// <param name="httpOptions">Retries and timeouts for URLs; the defaults when null.</param>
    /// <param name="statistics">Where a URL's stream reports what it waits for (<see cref="SourceStatistics.Waiting"/>), or null.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    public static async Task<OpenedInput> OpenAsync(string location, HttpClient? http = null, HttpReadOptions? httpOptions = null, SourceStatistics? statistics = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        Stream raw;
        long? length;
        if (InputIdentity.TryParseHttpUrl(location, out Uri? uri))
        {
            httpOptions ??= new HttpReadOptions();
            ResumableHttpStream stream = await ResumableHttpStream.OpenAsync(http ?? SharedHttp.For(httpOptions.ConnectTimeout), uri, httpOptions, statistics, cancellationToken).ConfigureAwait(false);
            raw = stream;
            length = stream.ContentLength;
        }
        else
        {
            if (!File.Exists(location))
            {
                throw new FileNotFoundException($"{location}: no such file.", location);
            }
            var file = new FileStream(location, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            raw = file;
            length = file.Length;
        }

        var counting = new CountingStream(raw);
        byte[] magic = new byte[2];
        int got = 0;
        while (got < 2)
        {
            int n = await counting.ReadAsync(magic.AsMemory(got), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            got += n;
        }
        Stream replay = new PrefixedStream(magic[..got], counting);
        if (got == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
        {
            // SharpZipLib checks each member's CRC and length and reads across concatenated members, so a
            // truncated download fails loudly instead of ending early (System.IO.Compression.GZipStream does not).
            var gzip = new GZipInputStream(replay, 1 << 16) { IsStreamOwner = true };
            return new OpenedInput(location, counting, gzip, length, "gzip");
        }
        if (location.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            replay.Dispose();
            throw new SourceFormatException(location, "byte offset 0", "the name ends in .gz but the data does not start with the gzip magic bytes 1F 8B.");
        }
        return new OpenedInput(location, counting, replay, length, "none");
    }

    /// <summary>Wraps a decompression or I/O failure in an error that names the input, the line and the raw offset.</summary>
    public Exception DescribeFailure(Exception error, long line)
    {
        string what = error switch
        {
            EndOfStreamException or ICSharpCode.SharpZipLib.SharpZipBaseException when Compression == "gzip" =>
                $"the gzip data is truncated or corrupt ({error.Message})",
            IOException => $"reading failed ({error.Message})",
            _ => error.Message,
        };
        return new SourceFormatException(Name, $"line {line}, {(Compression == "gzip" ? "compressed " : string.Empty)}byte offset {RawBytesRead}", what, error);
    }

    public void Dispose() => Content.Dispose();
}

/// <summary>One HttpClient per connect timeout for the process (in practice one), as HttpClient is meant to be used.</summary>
internal static class SharedHttp
{
    private static readonly ConcurrentDictionary<TimeSpan, HttpClient> s_clients = new();

    /// <summary>A client whose connection attempts give up after <paramref name="connectTimeout"/>; requests have no overall timeout (the stream bounds each phase itself).</summary>
    public static HttpClient For(TimeSpan connectTimeout) => s_clients.GetOrAdd(connectTimeout, static timeout => new HttpClient(
        new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, ConnectTimeout = timeout })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    });
}
