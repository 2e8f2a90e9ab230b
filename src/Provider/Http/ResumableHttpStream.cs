using System.Net;
using System.Net.Http.Headers;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Http;

/// <summary>Options for reading over HTTP(S).</summary>
public sealed record HttpReadOptions
{
    /// <summary>How many times a dropped or stalled connection is resumed before the read fails.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>A read that returns nothing for this long counts as a dropped connection.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Wait before the first retry; doubled on each further retry.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>
/// A forward-only stream over an HTTP(S) download that survives dropped connections: it reissues the request with
/// a <c>Range</c> header from the byte it had reached. If the server ignores ranges it re-reads and discards the
/// prefix; if the resource changed (ETag or Last-Modified differs) it fails rather than splice two versions.
/// </summary>
public sealed class ResumableHttpStream : ReadOnlyForwardStream
{
    private readonly HttpClient _http;
    private readonly Uri _uri;
    private readonly HttpReadOptions _options;
    private Stream? _body;
    private HttpResponseMessage? _response;
    private long _position;
    private string? _etag;
    private DateTimeOffset? _lastModified;
    private int _retriesUsed;

    private ResumableHttpStream(HttpClient http, Uri uri, HttpReadOptions options)
    {
        _http = http;
        _uri = uri;
        _options = options;
    }

    /// <summary>Total length when the server said it, else null.</summary>
    public long? ContentLength { get; private set; }

    /// <summary>Times a dropped connection was resumed.</summary>
    public int Resumes => _retriesUsed;

    /// <summary>Sends the first request and fails with a clear message if the server refuses it.</summary>
    public static async Task<ResumableHttpStream> OpenAsync(HttpClient http, Uri uri, HttpReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var stream = new ResumableHttpStream(http, uri, options ?? new HttpReadOptions());
        await stream.ConnectAsync(cancellationToken).ConfigureAwait(false);
        return stream;
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        if (_position > 0)
        {
            request.Headers.Range = new RangeHeaderValue(_position, null);
        }
        HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"{_uri}: the server answered {(int)response.StatusCode} {response.ReasonPhrase} at byte {_position}.", null, response.StatusCode);
            }
            string? etag = response.Headers.ETag?.Tag;
            DateTimeOffset? lastModified = response.Content.Headers.LastModified;
            if (_position == 0)
            {
                _etag = etag;
                _lastModified = lastModified;
                ContentLength = response.Content.Headers.ContentLength;
            }
            else if ((_etag is not null && etag is not null && etag != _etag) || (_lastModified is not null && lastModified is not null && lastModified != _lastModified))
            {
                throw new IOException($"{_uri}: the resource changed while it was being read (at byte {_position}); restart the run.");
            }

            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (_position > 0 && response.StatusCode != HttpStatusCode.PartialContent)
            {
                // The server ignored the range: skip what was already read.
                await DiscardAsync(body, _position, cancellationToken).ConfigureAwait(false);
            }
            _response = response;
            _body = body;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private async Task DiscardAsync(Stream body, long count, CancellationToken cancellationToken)
    {
        byte[] scratch = new byte[81920];
        while (count > 0)
        {
            int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"{_uri}: the server ignored the range request and sent fewer than {_position} bytes on retry.");
            }
            count -= n;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                if (_body is null)
                {
                    await ConnectAsync(cancellationToken).ConfigureAwait(false);
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.ReadTimeout);
                int n;
                try
                {
                    n = await _body!.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new IOException($"no data for {_options.ReadTimeout.TotalSeconds:0} s");
                }
                if (n == 0 && ContentLength is long length && _position < length)
                {
                    throw new IOException($"the connection closed after {_position} of {length} bytes");
                }
                _position += n;
                return n;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested && ex is not HttpRequestException { StatusCode: not null })
            {
                DropConnection();
                if (_retriesUsed >= _options.MaxRetries)
                {
                    throw new IOException($"{_uri}: the connection dropped at byte {_position} and {_options.MaxRetries} resumes did not recover it: {ex.Message}", ex);
                }
                TimeSpan delay = _options.RetryDelay * Math.Pow(2, _retriesUsed);
                _retriesUsed++;
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Synchronous readers (SharpZipLib's inflater) block the provider's own stage thread here, by design.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        byte[] scratch = new byte[buffer.Length];
        int n = Read(scratch, 0, scratch.Length);
        scratch.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    private void DropConnection()
    {
        _body?.Dispose();
        _response?.Dispose();
        _body = null;
        _response = null;
    }

    public override long Length => ContentLength ?? throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            DropConnection();
        }
        base.Dispose(disposing);
    }
}
