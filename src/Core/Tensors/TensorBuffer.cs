using System.Runtime.InteropServices;
using StreamLoader.Core.Buffers;

namespace StreamLoader.Core.Tensors;

/// <summary>One named tensor: dtype, shape and a single contiguous little-endian buffer rented from <see cref="HandOffArrayPool"/> (a batch is built on one thread and disposed on another).</summary>
/// <remarks>Owned by a <see cref="TensorBatch"/>, which returns the buffer to the pool when it is disposed.</remarks>
public sealed class TensorBuffer
{
    private byte[]? _rented;

    internal TensorBuffer(string name, TensorDType dtype, int[] shape, bool clear)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        long elements = 1;
        foreach (int dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}' has a negative dimension.");
            }
            elements *= dim;
        }
        long bytes = elements * TensorDTypes.SizeOf(dtype);
        if (bytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}' needs {bytes} bytes, more than one buffer holds.");
        }
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elements;
        ByteLength = (int)bytes;
        _rented = HandOffArrayPool.Rent<byte>(ByteLength);
        if (clear)
        {
            _rented.AsSpan(0, ByteLength).Clear();
        }
    }

    /// <summary>The tensor's name, unique within its batch ("input_ids", "labels").</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public TensorDType DType { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public long ElementCount { get; }

    /// <summary>Length in bytes of the tensor's data.</summary>
    public int ByteLength { get; }

    /// <summary>The raw little-endian bytes.</summary>
    public Span<byte> Bytes => Buffer.AsSpan(0, ByteLength);

    /// <summary>The data as elements of <typeparamref name="T"/>; <typeparamref name="T"/> must match <see cref="DType"/>.</summary>
    public Span<T> AsSpan<T>()
        where T : unmanaged
    {
        TensorDType expected = TensorDTypes.Of<T>();
        if (expected != DType && !(DType == TensorDType.BF16 && typeof(T) == typeof(ushort)))
        {
            throw new InvalidOperationException($"Tensor '{Name}' holds {DType}, not {expected}.");
        }
        return MemoryMarshal.Cast<byte, T>(Bytes);
    }

    private byte[] Buffer => _rented ?? throw new ObjectDisposedException(nameof(TensorBuffer), $"Tensor '{Name}' was returned to the pool.");

    internal void Release()
    {
        byte[]? rented = Interlocked.Exchange(ref _rented, null);
        if (rented is not null)
        {
            HandOffArrayPool.Return(rented);
        }
    }

    /// <summary>Shape as "[8, 128]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
