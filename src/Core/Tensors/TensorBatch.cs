namespace StreamLoader.Core.Tensors;

/// <summary>A batch of named tensors with string metadata, as the batcher makes it and the device consumes it.</summary>
/// <remarks>The consumer owns the batch and must dispose it, which returns every tensor's buffer to the pool.</remarks>
public sealed class TensorBatch : IDisposable
{
    private readonly List<TensorBuffer> _tensors = new(8);
    private bool _disposed;

    /// <summary>Creates an empty batch for the named task.</summary>
    public TensorBatch(string task, long sequence)
    {
        Task = task;
        Sequence = sequence;
    }

    /// <summary>The task that built the batch ("mlm").</summary>
    public string Task { get; }

    /// <summary>0-based index of the batch in the stream the batcher emitted (a builder numbers a batch when it completes it).</summary>
    public long Sequence { get; set; }

    /// <summary>Non-padding tokens in the batch, for token-rate counters.</summary>
    public long TokenCount { get; set; }

    /// <summary>Documents (or document windows) that contributed rows.</summary>
    public int RowCount { get; set; }

    /// <summary>String metadata carried alongside the tensors (for example "seq_len").</summary>
    public BatchMetadataDictionary Metadata { get; } = new();

    /// <summary>The tensors in the order they were added.</summary>
    public IReadOnlyList<TensorBuffer> Tensors => _tensors;

    /// <summary>Total bytes of tensor data.</summary>
    public long ByteLength
    {
        get
        {
            long total = 0;
            foreach (TensorBuffer tensor in _tensors)
            {
                total += tensor.ByteLength;
            }
            return total;
        }
    }

    /// <summary>Adds a tensor with a pooled buffer; <paramref name="clear"/> zeroes it first.</summary>
    public TensorBuffer Add(string name, TensorDType dtype, int[] shape, bool clear = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (TryGet(name, out _))
        {
            throw new ArgumentException($"The batch already has a tensor named '{name}'.", nameof(name));
        }
        var tensor = new TensorBuffer(name, dtype, shape, clear);
        _tensors.Add(tensor);
        return tensor;
    }

    /// <summary>Finds a tensor by name.</summary>
    public bool TryGet(string name, out TensorBuffer tensor)
    {
        foreach (TensorBuffer candidate in _tensors)
        {
            if (candidate.Name == name)
            {
                tensor = candidate;
                return true;
            }
        }
        tensor = null!;
        return false;
    }

    /// <summary>The tensor with the given name; throws if there is none.</summary>
    public TensorBuffer this[string name] =>
        TryGet(name, out TensorBuffer tensor)
            ? tensor
            : throw new KeyNotFoundException($"Batch {Sequence} of task '{Task}' has no tensor '{name}' (it has: {string.Join(", ", _tensors.Select(t => t.Name))}).");

    /// <summary>Returns every buffer to the pool. Safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (TensorBuffer tensor in _tensors)
        {
            tensor.Release();
        }
    }
}
