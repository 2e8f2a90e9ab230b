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

    /// <summary>True once a read found the end of the stream: a parser failing then ran out of input.</summary>
    public bool ReachedEnd { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Counted(n, buffer.Length);
        return n;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Counted(n, buffer.Length);
        return n;
    }

    private void Counted(int n, int asked)
    {
        Interlocked.Add(ref _bytesRead, n);
        if (n == 0 && asked > 0)
        {
            ReachedEnd = true;
        }
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
