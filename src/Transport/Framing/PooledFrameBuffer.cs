using System.Buffers;

namespace StreamLoader.Transport.Framing;

/// <summary>
/// A frame serialized into an array rented from the shared pool, for transports that copy it onward (a socket send)
/// and can then return the array. Frames are large (hundreds of KB), so renting keeps them off the large-object heap.
/// </summary>
internal sealed class PooledFrameBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;

    public PooledFrameBuffer(int sizeHint)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256, sizeHint));
    }

    /// <summary>The array holding the frame; valid up to <see cref="Length"/> until disposed.</summary>
    public byte[] Array => _buffer;

    public int Length => _written;

    /// <summary>Serializes <paramref name="batch"/> as one frame into a rented buffer.</summary>
    public static PooledFrameBuffer For(StreamLoader.Core.Tensors.TensorBatch batch)
    {
        var frame = new PooledFrameBuffer(checked((int)batch.ByteLength + 16384));
        TensorFrame.Write(batch, frame);
        return frame;
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        if (_buffer.Length - _written >= Math.Max(1, sizeHint))
        {
            return;
        }
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
