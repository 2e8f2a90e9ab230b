using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Http;

/// <summary>Options for reading over HTTP(S).</summary>
/// <remarks>Every timeout must be positive; they are checked when a stream is opened.</remarks>
public sealed record HttpReadOptions
{
    /// <summary>
    /// How many resumes in a row may fail to bring any data before the read fails. The count starts again once data
    /// flows, so a long download survives a dropped connection every few minutes.
    /// </summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>
    /// How long establishing a connection may take. Applied by the provider's own HTTP client
    /// (<see cref="SocketsHttpHandler.ConnectTimeout"/>); an <see cref="HttpClient"/> passed in keeps its handler's
    /// setting, but the request as a whole is still cut off after <see cref="ConnectTimeout"/> + <see cref="ResponseTimeout"/>.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long to wait for a response's headers once connected, on the first request and on every resume. A server
    /// that accepts the connection and answers nothing fails the read after <see cref="ConnectTimeout"/> +
    /// <see cref="ResponseTimeout"/> at most.
    /// </summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The whole budget for receiving no data once the first response has begun: the time spent waiting since the last
    /// byte arrived, summed over reads, reconnects, response waits and retry delays, may not exceed it. When it runs out
    /// the read fails with an <see cref="IOException"/> naming the URL and byte offset, whatever retries are left.
    /// Time the consumer spends between reads does not count.
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait before the first retry; doubled on each further retry.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ResponseTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StallTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryDelay, TimeSpan.Zero);
    }
}

/// <summary>
/// A forward-only stream over an HTTP(S) download that survives dropped connections: it reissues the request with
/// a <c>Range</c> header from the byte it had reached. A server that ignores the range, or a resource that changed
/// (ETag or Last-Modified differs), fails the read at once with a message that says so, rather than splice or re-read.
/// </summary>
/// <remarks>
/// Every wait can end: each request is bounded by <see cref="HttpReadOptions.ConnectTimeout"/> +
/// <see cref="HttpReadOptions.ResponseTimeout"/>, and time without data by <see cref="HttpReadOptions.StallTimeout"/>
/// over all resumes. While it waits, the stream says so through <see cref="SourceStatistics.SetWaiting"/>.
/// </remarks>
public sealed class ResumableHttpStream : ReadOnlyForwardStream
{
    private readonly HttpClient _http;
    private readonly Uri _uri;
    private readonly HttpReadOptions _options;
    private readonly SourceStatistics? _statistics;
    private readonly string _waitingForAnswer;
    private readonly string _waitingForData;
    private Stream? _body;
    private HttpResponseMessage? _response;
    private long _position;
    private string? _etag;
    private DateTimeOffset? _lastModified;
    private int _retriesUsed;
    private int _failuresInARow;
    private string? _expectedValidator;
    private bool _opened;

    // Time spent waiting since the last byte arrived (Stopwatch ticks), and what the last wait was for.
    private long _stalledTicks;
    private string _stalledOn = NoHeaders;
    private bool _waiting;

    // Reused across reads so a read that completes at once allocates nothing; armed only when a read has to wait.
    private CancellationTokenSource? _readTimer;
    private CancellationToken _readTimerParent;

    private const string NoHeaders = "the server accepted the connection but sent no response headers";
    private const string NoBody = "the server sent the response headers but no data after them";
    private const string NoMoreData = "the server stopped sending data";

    private ResumableHttpStream(HttpClient http, Uri uri, HttpReadOptions options, SourceStatistics? statistics)
    {
        _http = http;
        _uri = uri;
        _options = options;
        _statistics = statistics;
        _waitingForAnswer = $"waiting for {uri.Host} to answer";
        _waitingForData = $"waiting for data from {uri.Host}";
    }

    /// <summary>Total length when the server said it, else null.</summary>
    public long? ContentLength { get; private set; }

    /// <summary>The resource's version as the server labels it (its ETag, else its Last-Modified date), or null when it gives neither.</summary>
    public string? Validator => _etag ?? _lastModified?.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>True when the first response said <c>Accept-Ranges: bytes</c>, so a later run can start inside the resource.</summary>
    public bool AcceptsRanges { get; private set; }

    /// <summary>Times a dropped connection was resumed, over the whole download.</summary>
    public int Resumes => _retriesUsed;

    /// <summary>Sends the first request and fails with a clear message if the server refuses it or does not answer.</summary>
    /// <param name="http">The client to send with.</param>
    /// <param name="uri">The http(s) URL.</param>
    /// <param name="options">Retries and timeouts; the defaults when null.</param>
    /// <param name="statistics">Where to report waits (<see cref="SourceStatistics.Waiting"/>), or null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <param name="startAt">The byte to start at (a resume seeking inside the resource), requested with a Range; 0 for the start.</param>
    /// <param name="expectedValidator">The <see cref="Validator"/> a saved position was taken with: a resource that answers with another fails at once.</param>
    public static async Task<ResumableHttpStream> OpenAsync(HttpClient http, Uri uri, HttpReadOptions? options = null, SourceStatistics? statistics = null, long startAt = 0, string? expectedValidator = null, CancellationToken cancellationToken = default)
    {
        options ??= new HttpReadOptions();
        options.Validate();
        var stream = new ResumableHttpStream(http, uri, options, statistics) { _position = startAt, _expectedValidator = expectedValidator };
        try
        {
            await stream.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null)
        {
            // No answer at all (refused, unreachable, a name that does not resolve): the client's message names no URL.
            stream.Dispose();
            throw new IOException($"{uri}: could not connect at byte {startAt}: {ex.Message}", ex);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return stream;
    }

    private TimeSpan StallBudgetLeft => _options.StallTimeout - Stopwatch.GetElapsedTime(0, _stalledTicks);

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        TimeSpan limit = _options.ConnectTimeout + _options.ResponseTimeout;
        if (_opened && StallBudgetLeft < limit)
        {
            // A resume may not outlast the stall budget (CancelAfter(0) cancels at once).
            limit = StallBudgetLeft > TimeSpan.Zero ? StallBudgetLeft : TimeSpan.Zero;
        }
        bool limitIsStallBudget = _opened && limit < _options.ConnectTimeout + _options.ResponseTimeout;
        _stalledOn = NoHeaders;
        SetWaiting(_waitingForAnswer);

        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        HttpCredentials.Apply(request);
        if (_position > 0)
        {
            request.Headers.Range = new RangeHeaderValue(_position, null);
        }
        HttpResponseMessage response;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(limit);
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (timeout.IsCancellationRequested && limitIsStallBudget)
                {
                    SpendStallBudget();
                }
                string why = timeout.IsCancellationRequested
                    ? $"{NoHeaders} (raise --response-timeout if the server is only slow to start)"
                    : $"no connection was made within {_options.ConnectTimeout.TotalSeconds:0.#} s, or the HTTP client timed out (raise --connect-timeout if the network is only slow)";
                throw new IOException($"no response for {Stopwatch.GetElapsedTime(started).TotalSeconds:0.#} s at byte {_position} of {_uri}; {why}.", ex);
            }
            finally
            {
                if (_opened)
                {
                    _stalledTicks += Stopwatch.GetTimestamp() - started;
                }
            }
        }
        try
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"{_uri}: the server answered {(int)response.StatusCode} {response.ReasonPhrase} at byte {_position}.", null, response.StatusCode);
            }
            string? etag = response.Headers.ETag?.Tag;
            DateTimeOffset? lastModified = response.Content.Headers.LastModified;
            if (!_opened)
            {
                _etag = etag;
                _lastModified = lastModified;
                // A ranged first request (a resume seeking inside the resource) is told the rest's length.
                ContentLength = response.Content.Headers.ContentLength + (response.StatusCode == HttpStatusCode.PartialContent ? _position : 0);
                AcceptsRanges = response.Headers.AcceptRanges.Contains("bytes");
                if (_expectedValidator is not null && Validator != _expectedValidator)
                {
                    throw new HttpRequestException(
                        $"{_uri}: the resource changed since the position was saved (it was {_expectedValidator}, it is now {Validator ?? "unlabelled"}); a resume cannot continue inside another version. Start a new run.", null, response.StatusCode);
                }
            }
            else if ((_etag is not null && etag is not null && etag != _etag) || (_lastModified is not null && lastModified is not null && lastModified != _lastModified))
            {
                // Not an IOException: a changed resource is not retried, since no retry can splice two versions.
                throw new HttpRequestException(
                    $"{_uri}: the resource changed while it was being read (at byte {_position}: ETag {_etag ?? "-"} -> {etag ?? "-"}, " +
                    $"Last-Modified {_lastModified?.ToString("R") ?? "-"} -> {lastModified?.ToString("R") ?? "-"}); restart the run.", null, response.StatusCode);
            }

            // With ResponseHeadersRead the body stream is at hand at once; reads from it are bounded below.
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            _opened = true;
            _stalledOn = NoBody;
            if (_position > 0 && response.StatusCode != HttpStatusCode.PartialContent)
            {
                // Re-reading the whole prefix of a multi-GB dump on every drop is not a resume: say so instead.
                throw new HttpRequestException(
                    $"{_uri}: {(_opened && _retriesUsed > 0 ? "the connection dropped at byte " + _position + " and " : "reading from byte " + _position + ", ")}the server ignored the Range request " +
                    $"(it answered {(int)response.StatusCode} instead of 206 Partial Content), so the download cannot continue where it stopped. " +
                    "Download the file first, or use a server that supports ranges.", null, response.StatusCode);
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

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        try
        {
            while (true)
            {
                Exception failure;
                try
                {
                    if (_body is null)
                    {
                        await ConnectAsync(cancellationToken).ConfigureAwait(false);
                    }
                    int n = await ReadBoundedAsync(_body!, buffer, cancellationToken).ConfigureAwait(false);
                    if (n == 0 && ContentLength is long length && _position < length)
                    {
                        throw new IOException($"the connection closed after {_position} of {length} bytes");
                    }
                    _position += n;
                    if (n > 0)
                    {
                        _failuresInARow = 0;
                    }
                    return n;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException { StatusCode: null } && !cancellationToken.IsCancellationRequested)
                {
                    failure = ex;
                }

                DropConnection();
                TimeSpan left = StallBudgetLeft;
                if (left <= TimeSpan.Zero)
                {
                    throw Stalled(failure);
                }
                if (_failuresInARow >= _options.MaxRetries)
                {
                    throw new IOException($"{_uri}: the connection dropped at byte {_position} and {_options.MaxRetries} resumes in a row brought no data: {failure.Message}", failure);
                }
                TimeSpan delay = _options.RetryDelay * Math.Pow(2, _failuresInARow);
                _failuresInARow++;
                _retriesUsed++;
                _statistics?.AddResume();
                long started = Stopwatch.GetTimestamp();
                await Task.Delay(delay < left ? delay : left, cancellationToken).ConfigureAwait(false);
                _stalledTicks += Stopwatch.GetTimestamp() - started;
                if (StallBudgetLeft <= TimeSpan.Zero)
                {
                    // The wait used what was left: say what last went wrong, not that a request went unanswered.
                    throw Stalled(failure);
                }
            }
        }
        catch
        {
            SetWaiting(null);
            throw;
        }
    }

    private IOException Stalled(Exception last)
    {
        string resumes = _retriesUsed == 0 ? string.Empty : $" after {_retriesUsed} resume{(_retriesUsed == 1 ? string.Empty : "s")}";
        return new IOException(
            $"no data for {Stopwatch.GetElapsedTime(0, _stalledTicks).TotalSeconds:0.#} s at byte {_position} of {_uri}{resumes}; {_stalledOn} " +
            $"(raise --stall-timeout, now {_options.StallTimeout.TotalSeconds:0.#} s, if the server is only slow).", last);
    }

    /// <summary>Reads from <paramref name="body"/>, giving up with an <see cref="IOException"/> when the stall budget runs out.</summary>
    private async ValueTask<int> ReadBoundedAsync(Stream body, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        CancellationTokenSource timer = ReadTimer(cancellationToken);
        ValueTask<int> read = body.ReadAsync(buffer, timer.Token);
        int n;
        if (read.IsCompletedSuccessfully)
        {
            n = read.Result;
        }
        else
        {
            long started = Stopwatch.GetTimestamp();
            SetWaiting(_waitingForData);
            TimeSpan left = StallBudgetLeft;
            timer.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            try
            {
                n = await read.ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                _stalledTicks += Stopwatch.GetTimestamp() - started;
                if (timer.IsCancellationRequested)
                {
                    SpendStallBudget();
                }
                throw new IOException($"no data for {Stopwatch.GetElapsedTime(started).TotalSeconds:0.#} s", ex);
            }
            catch
            {
                _stalledTicks += Stopwatch.GetTimestamp() - started;
                throw;
            }
            finally
            {
                timer.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            _stalledTicks += Stopwatch.GetTimestamp() - started;
        }
        if (n > 0)
        {
            _stalledTicks = 0;
            _stalledOn = NoMoreData;
            SetWaiting(null);
        }
        return n;
    }

    // The budget timer has fired: count the budget as spent even if the timer (millisecond resolution) came early.
    private void SpendStallBudget() =>
        _stalledTicks = Math.Max(_stalledTicks, (long)Math.Ceiling(_options.StallTimeout.TotalSeconds * Stopwatch.Frequency));

    private CancellationTokenSource ReadTimer(CancellationToken cancellationToken)
    {
        if (_readTimer is null || _readTimerParent != cancellationToken || !_readTimer.TryReset())
        {
            _readTimer?.Dispose();
            _readTimer = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : new CancellationTokenSource();
            _readTimerParent = cancellationToken;
        }
        return _readTimer;
    }

    private void SetWaiting(string? what)
    {
        if (_statistics is null || (what is null && !_waiting))
        {
            return;
        }
        _waiting = what is not null;
        _statistics.SetWaiting(what);
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
            SetWaiting(null);
            _readTimer?.Dispose();
            _readTimer = null;
        }
        base.Dispose(disposing);
    }
}
