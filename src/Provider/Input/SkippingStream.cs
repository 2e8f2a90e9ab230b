namespace StreamLoader.Provider.Input;

/// <summary>Skips the first bytes of a stream (a byte order mark, an Arrow file's preamble).</summary>
internal sealed class SkippingStream : ReadOnlyForwardStream
{
    private readonly Stream _inner;
    private int _skip;

    public SkippingStream(Stream inner, int skip)
    {
        _inner = inner;
        _skip = skip;
    }

    public override int Read(Span<byte> buffer)
    {
        Span<byte> scratch = stackalloc byte[8];
        while (_skip > 0)
        {
            int n = _inner.Read(scratch[.._skip]);
            if (n == 0)
            {
                return 0;
            }
            _skip -= n;
        }
        return _inner.Read(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_skip > 0)
        {
            byte[] scratch = new byte[_skip];
            int n = await _inner.ReadAsync(scratch, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return 0;
            }
            _skip -= n;
        }
        return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }
}
