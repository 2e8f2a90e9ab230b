using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Runtime;

/// <summary>A batch's tensors as torch tensors on the compute device, created inside the caller's dispose scope.</summary>
public sealed class DeviceBatch
{
    private readonly Dictionary<string, Tensor> _tensors;

    private readonly int _firstRow;
    private readonly int _rows;

    private DeviceBatch(Dictionary<string, Tensor> tensors, TensorBatch source, int firstRow, int rows)
    {
        _tensors = tensors;
        Source = source;
        _firstRow = firstRow;
        _rows = rows;
    }

    /// <summary>The host batch the tensors were copied from.</summary>
    public TensorBatch Source { get; }

    /// <summary>The tensor with the given name.</summary>
    public Tensor this[string name] =>
        _tensors.TryGetValue(name, out Tensor? tensor)
            ? tensor
            : throw new KeyNotFoundException($"Batch {Source.Sequence} of task '{Source.Task}' has no tensor '{name}'.");

    /// <summary>True when the batch has a tensor with that name.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Copies every tensor once to <paramref name="device"/>. On CUDA the host copy is pinned and the transfer non-blocking.</summary>
    public static DeviceBatch From(TensorBatch batch, torch.Device device) => From(batch, device, 0, -1);

    /// <summary>
    /// As <see cref="From(TensorBatch, torch.Device)"/>, for rows [<paramref name="firstRow"/>, +<paramref name="rows"/>)
    /// only of every tensor whose first dimension is the batch's (a batch cut in parts); <paramref name="rows"/> -1 for all.
    /// </summary>
    public static DeviceBatch From(TensorBatch batch, torch.Device device, int firstRow, int rows)
    {
        var tensors = new Dictionary<string, Tensor>(batch.Tensors.Count, StringComparer.Ordinal);
        bool cuda = device.type == DeviceType.CUDA;
        int height = batch.TryGet(TaskTensors.InputIds, out TensorBuffer ids) ? ids.Shape[0] : -1;
        foreach (TensorBuffer buffer in batch.Tensors)
        {
            long[] shape = Array.ConvertAll(buffer.Shape, d => (long)d);
            ReadOnlySpan<byte> bytes = buffer.Bytes;
            if (rows >= 0 && shape.Length > 0 && shape[0] == height)
            {
                int rowBytes = buffer.ByteLength / Math.Max(1, height);
                bytes = bytes.Slice(firstRow * rowBytes, rows * rowBytes);
                shape[0] = rows;
            }
            Tensor host = torch.empty(shape, ToScalarType(buffer.DType));
            bytes.CopyTo(host.bytes);
            if (cuda)
            {
                Tensor pinned = host.pin_memory();
                tensors[buffer.Name] = pinned.to(device, non_blocking: true);
            }
            else
            {
                tensors[buffer.Name] = host;
            }
        }
        return new DeviceBatch(tensors, batch, firstRow, rows);
    }

    /// <summary>
    /// The rows (of this batch, or of its part) with at least one target in <paramref name="name"/>: a value other than
    /// <see cref="TaskTensors.IgnoreIndex"/>. Read from the host copy, so a loss that skips empty batches never waits
    /// for the device (a <c>.item()</c> on the device tensor would stall the step's queued work).
    /// </summary>
    public int[] RowsWithTargets(string name)
    {
        TensorBuffer buffer = Source.TryGet(name, out TensorBuffer found) ? found : throw new KeyNotFoundException($"Batch {Source.Sequence} of task '{Source.Task}' has no tensor '{name}'.");
        int height = buffer.Shape.Length > 0 ? buffer.Shape[0] : 1;
        int width = (int)(buffer.Shape.Length > 0 && height > 0 ? buffer.ElementCount / height : buffer.ElementCount);
        int first = _rows >= 0 ? _firstRow : 0;
        int count = _rows >= 0 ? _rows : height;
        var rows = new List<int>(count);
        for (int r = 0; r < count; r++)
        {
            bool target = buffer.DType switch
            {
                TensorDType.I64 => buffer.AsSpan<long>().Slice((first + r) * width, width).ContainsAnyExcept((long)TaskTensors.IgnoreIndex),
                TensorDType.F32 => buffer.AsSpan<float>().Slice((first + r) * width, width).ContainsAnyExcept((float)TaskTensors.IgnoreIndex),
                _ => throw new InvalidDataException($"Batch {Source.Sequence}: targets '{name}' are {buffer.DType}; expected int64 ids or float32 rows."),
            };
            if (target)
            {
                rows.Add(r);
            }
        }
        return [.. rows];
    }

    /// <summary>Maps a wire dtype to TorchSharp's.</summary>
    public static ScalarType ToScalarType(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool => ScalarType.Bool,
        TensorDType.U8 => ScalarType.Byte,
        TensorDType.I8 => ScalarType.Int8,
        TensorDType.I16 => ScalarType.Int16,
        TensorDType.I32 => ScalarType.Int32,
        TensorDType.I64 => ScalarType.Int64,
        TensorDType.F16 => ScalarType.Float16,
        TensorDType.BF16 => ScalarType.BFloat16,
        TensorDType.F32 => ScalarType.Float32,
        TensorDType.F64 => ScalarType.Float64,
        _ => throw new NotSupportedException($"TorchSharp has no tensor type for {dtype}."),
    };
}
