using System.Collections.Concurrent;
using StreamLoader.Core.Buffers;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>An opened input (file or URL), decompressed if needed, that knows how far into the raw bytes it is.</summary>
public sealed class OpenedInput : IDisposable
{
    private readonly CountingStream _raw;
    private CountingStream? _content;
    // The head's array, rented for the input's lifetime: opening a file per pass must not cost 128 KiB of garbage.
    private byte[]? _headArray;

    /// <summary>Decompressed bytes read ahead at open, for format detection (and replayed by <see cref="Content"/>).</summary>
    public const int HeadBytes = 64 << 10;

    private OpenedInput(string name, CountingStream raw, Stream content, long? rawLength, CompressionKind compression)
    {
        Name = name;
        _raw = raw;
        Content = content;
        RawLength = rawLength;
        Compression = compression;
    }

    /// <summary>The path or URL.</summary>
    public string Name { get; }

    /// <summary>The decompressed bytes, from the start.</summary>
    public Stream Content { get; private set; }

    /// <summary>The first decompressed bytes (up to <see cref="HeadBytes"/>), for telling the format from the content; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Head { get; private set; }

    /// <summary>Raw (possibly compressed) bytes consumed so far: the offset errors name and progress uses.</summary>
    public long RawBytesRead => _raw.BytesRead;

    /// <summary>Decompressed bytes handed out by <see cref="Content"/> so far.</summary>
    public long ContentBytesRead => _content?.BytesRead ?? 0;

    /// <summary>Total raw bytes, when known (file size or Content-Length).</summary>
    public long? RawLength { get; }

    /// <summary>The compression the raw bytes are in.</summary>
    public CompressionKind Compression { get; }

    /// <summary>
    /// Opens a local path or an http(s) URL. Compression (gzip, bzip2, zstd) is detected from the magic bytes, not the
    /// name; a name that promises a compression the data lacks is an error (usually a truncated or misnamed file).
    /// </summary>
    /// <param name="location">A local path or an http(s) URL.</param>
    /// <param name="http">The client for URLs; null uses a shared one that applies <see cref="HttpReadOptions.ConnectTimeout"/>.</param>
    /// <param name="httpOptions">Retries and timeouts for URLs; the defaults when null.</param>
    /// <param name="statistics">Where a URL's stream reports what it waits for (<see cref="SourceStatistics.Waiting"/>), or null.</param>
    /// <param name="decompressThreads">Threads that decompress a zstd or bzip2 input (<see cref="Input.Compression.Decompress(CompressionKind, Stream, int)"/>).</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    public static async Task<OpenedInput> OpenAsync(string location, HttpClient? http = null, HttpReadOptions? httpOptions = null, SourceStatistics? statistics = null, int decompressThreads = 1, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        Stream raw;
        long? length;
        if (InputIdentity.TryParseHttpUrl(location, out Uri? uri))
        {
            httpOptions ??= new HttpReadOptions();
            ResumableHttpStream stream = await ResumableHttpStream.OpenAsync(http ?? SharedHttp.For(httpOptions.ConnectTimeout), uri, httpOptions, statistics, cancellationToken: cancellationToken).ConfigureAwait(false);
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
        byte[] magic = new byte[Input.Compression.MagicBytes];
        int got;
        try
        {
            got = await ReadUpToAsync(counting, magic, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The HTTP stream's own errors already name the URL and the byte; only the input must not stay open.
            counting.Dispose();
            throw;
        }
        Stream replay = new PrefixedStream(magic.AsMemory(0, got), counting);
        CompressionKind kind = Input.Compression.Detect(magic.AsSpan(0, got));
        CompressionKind named = Input.Compression.FromName(InputIdentity.TryParseHttpUrl(location, out Uri? url) ? url.AbsolutePath : location);
        if (named != CompressionKind.None && kind != named)
        {
            replay.Dispose();
            throw new SourceFormatException(location, "byte offset 0",
                $"the name ends in the {Input.Compression.Name(named)} extension but the data does not start with {Input.Compression.Name(named)}'s magic bytes (it starts with {Convert.ToHexString(magic, 0, got)}). Is the file truncated, or misnamed?");
        }
        var opened = new OpenedInput(location, counting, replay, length, kind);
        try
        {
            // Decompressors read their own header at once (bzip2's block size), so this is inside the try too.
            Stream content = Input.Compression.Decompress(kind, replay, decompressThreads);
            opened.Content = content;
            byte[] head = opened._headArray = HandOffArrayPool.Rent<byte>(HeadBytes);
            int headLength = await ReadUpToAsync(content, head.AsMemory(0, HeadBytes), cancellationToken).ConfigureAwait(false);
            opened.Head = head.AsMemory(0, headLength);
            opened._content = new CountingStream(new PrefixedStream(opened.Head, content));
            opened.Content = opened._content;
        }
        catch (Exception ex)
        {
            // Also on cancellation: the file or the HTTP response must not stay open.
            opened.Dispose();
            if (ex is OperationCanceledException)
            {
                throw;
            }
            throw opened.DescribeFailure(ex, 1);
        }
        return opened;
    }

    private static async Task<int> ReadUpToAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[got..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            got += n;
        }
        return got;
    }

    /// <summary>True when the input is a local file whose bytes are not compressed, so a record's offset can be sought again.</summary>
    /// <remarks>A URL qualifies when its server accepts ranges and labels the version (ETag or Last-Modified), so a resume can check it seeks into the same resource.</remarks>
    public bool IsSeekable => Compression == CompressionKind.None && (_raw.Inner is not ResumableHttpStream http || (http.AcceptsRanges && http.Validator is not null));

    /// <summary>For a URL, the resource's version label (see <see cref="ResumableHttpStream.Validator"/>); null for a local file.</summary>
    public string? Validator => _raw.Inner is ResumableHttpStream http ? http.Validator : null;

    /// <summary>
    /// Opens an uncompressed file or URL at <paramref name="offset"/> (a record's start, from
    /// <see cref="Document.SourceOffset"/>): a local file seeks, a URL asks for a range. Reading continues there without
    /// reading what comes before it.
    /// </summary>
    /// <param name="location">The path or URL.</param>
    /// <param name="offset">The record's byte offset.</param>
    /// <param name="validator">For a URL, the version label the offset was taken in; another version fails at once.</param>
    /// <param name="http">The client for URLs.</param>
    /// <param name="httpOptions">Retries and timeouts for URLs.</param>
    /// <param name="statistics">Where waits are reported.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    public static async Task<OpenedInput> OpenAtAsync(string location, long offset, string? validator, HttpClient? http, HttpReadOptions? httpOptions, SourceStatistics? statistics, CancellationToken cancellationToken)
    {
        Stream raw;
        long? length;
        if (InputIdentity.TryParseHttpUrl(location, out Uri? uri))
        {
            httpOptions ??= new HttpReadOptions();
            ResumableHttpStream stream = await ResumableHttpStream.OpenAsync(http ?? SharedHttp.For(httpOptions.ConnectTimeout), uri, httpOptions, statistics, offset, validator, cancellationToken).ConfigureAwait(false);
            raw = stream;
            length = stream.ContentLength;
        }
        else
        {
            var file = new FileStream(location, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            if (offset > file.Length)
            {
                long size = file.Length;
                file.Dispose();
                throw new SourceFormatException(location, $"byte offset {offset}", $"the saved position is past the end of the file ({size} bytes); the file changed since it was saved.");
            }
            file.Position = offset;
            raw = file;
            length = file.Length;
        }
        var counting = new CountingStream(raw, offset);
        var opened = new OpenedInput(location, counting, counting, length, CompressionKind.None);
        opened._content = new CountingStream(counting, offset);
        opened.Content = opened._content;
        return opened;
    }

    /// <summary>Wraps a decompression or I/O failure in an error that names the input, the line and the raw offset.</summary>
    public Exception DescribeFailure(Exception error, long line)
    {
        string what = error switch
        {
            EndOfStreamException or InvalidDataException or ICSharpCode.SharpZipLib.SharpZipBaseException or ZstdSharp.ZstdException when Compression != CompressionKind.None =>
                $"the {Input.Compression.Name(Compression)} data is truncated or corrupt ({error.Message})",
            IOException => $"reading failed ({error.Message})",
            System.Xml.XmlException when _content?.ReachedEnd == true => $"the XML is truncated: the input ends with elements still open ({error.Message})",
            _ => error.Message,
        };
        return new SourceFormatException(Name, $"line {line}, {(Compression != CompressionKind.None ? "compressed " : string.Empty)}byte offset {RawBytesRead}", what, error);
    }

    /// <summary>Closes the input. <see cref="Head"/> is not valid afterwards: copy it first to keep it.</summary>
    public void Dispose()
    {
        Content.Dispose();
        Head = default;
        if (Interlocked.Exchange(ref _headArray, null) is { } head)
        {
            HandOffArrayPool.Return(head);
        }
    }
}

/// <summary>One HttpClient per connect timeout for the process (in practice one), as HttpClient is meant to be used.</summary>
internal static class SharedHttp
{
    private static readonly ConcurrentDictionary<TimeSpan, HttpClient> s_clients = new();

    /// <summary>A client whose connection attempts give up after <paramref name="connectTimeout"/>; requests have no overall timeout (the stream bounds each phase itself).</summary>
    public static HttpClient For(TimeSpan connectTimeout) => s_clients.GetOrAdd(connectTimeout, static timeout => new HttpClient(
        // TLS certificates are validated (.NET's default; StreamLoader never turns it off); at most 5 redirects, only to
        // http(s), never from https to http (.NET's rule), and a redirect drops the Authorization header.
        new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, ConnectTimeout = timeout, MaxAutomaticRedirections = 5 })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    });
}
