namespace StreamLoader.Provider.Input;

/// <summary>Replays a few bytes already read (a format sniff) before the rest of a non-seekable stream.</summary>
internal sealed class PrefixedStream : ReadOnlyForwardStream
{
    private readonly ReadOnlyMemory<byte> _prefix;
    private readonly Stream _inner;
    private int _prefixPosition;

    /// <param name="prefix">The bytes to replay; they must stay as they are until they have been read.</param>
    /// <param name="inner">The rest of the stream.</param>
    public PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner)
    {
        _prefix = prefix;
        _inner = inner;
    }

    public override int Read(Span<byte> buffer)
    {
        if (_prefixPosition < _prefix.Length)
        {
            int n = Math.Min(buffer.Length, _prefix.Length - _prefixPosition);
            _prefix.Span.Slice(_prefixPosition, n).CopyTo(buffer);
            _prefixPosition += n;
            return n;
        }
        return _inner.Read(buffer);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _prefixPosition < _prefix.Length ? new ValueTask<int>(Read(buffer.Span)) : _inner.ReadAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
