namespace StreamLoader.Provider.Input;

/// <summary>A read-only pass-through stream that counts the bytes read, so errors and progress can name an offset.</summary>
internal sealed class CountingStream : ReadOnlyForwardStream
{
    private readonly Stream _inner;
    private long _bytesRead;

    /// <param name="inner">The stream to count.</param>
    /// <param name="start">Where in its file <paramref name="inner"/> is (reading resumed mid-file), so counts are file offsets.</param>
    public CountingStream(Stream inner, long start = 0)
    {
        _inner = inner;
        _bytesRead = start;
    }

    /// <summary>The stream counted.</summary>
    public Stream Inner => _inner;

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Interlocked.Add(ref _bytesRead, n);
        return n;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesRead, n);
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
