using System.Diagnostics;
using System.Runtime.InteropServices;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Inference;

/// <summary>Time and padding of one batch layout, over the batches the predictor ran in it.</summary>
public sealed class LayoutTiming
{
    internal long _documents;
    internal long _batches;
    internal long _positions;
    internal long _tokens;
    internal long _ticks;

    /// <summary>Documents (real rows) run.</summary>
    public long Documents => Interlocked.Read(ref _documents);

    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Tokens of the batches' rows, [CLS] and [SEP] included, padding not.</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Seconds in the model (host-to-device copy, forward pass, probabilities back).</summary>
    public double Seconds => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks)).TotalSeconds;

    /// <summary>Share of the batches' positions (rows × length) that were padding; null before any.</summary>
    public double? PaddingFraction => Interlocked.Read(ref _positions) is long positions and > 0 ? 1 - (Interlocked.Read(ref _tokens) / (double)positions) : null;

    /// <summary>Documents per second in the model.</summary>
    public double? DocumentsPerSecond => Seconds > 0 ? Documents / Seconds : null;
}

/// <summary>
/// The device stage of inference: runs each batch through the model in its own dispose scope, with gradients off, and
/// hands the probabilities on, copied out of the scope, with each row's place in the source. A batch the device has no
/// memory for is halved and retried (and later batches are cut to the size that fitted), as CrossFit does. Batches
/// marked as comparison are timed, not written.
/// </summary>
public sealed class Predictor
{
    private readonly IPredictingModel _model;
    private readonly torch.Device _device;
    private int _rowLimit = int.MaxValue;
    private bool _warm;
    private long _memoryRetries;
    private long _comparisonDisagreements;
    private readonly Dictionary<SourcePosition, int> _comparedLabels = [];

    public Predictor(IPredictingModel model, torch.Device device)
    {
        _model = model;
        _device = device;
    }

    /// <summary>The CPU threads each batch computes with, on whichever thread it runs.</summary>
    public TorchThreads Threads { get; init; } = TorchThreads.Default;

    /// <summary>The batches that were written, by layout.</summary>
    public LayoutTiming Written { get; } = new();

    /// <summary>The comparison batches (the other layout, same documents).</summary>
    public LayoutTiming Compared { get; } = new();

    /// <summary>The written layout's time and padding over the documents that were also compared, for a side-by-side ratio.</summary>
    public LayoutTiming WrittenCompared { get; } = new();

    /// <summary>Times a batch was halved because the device ran out of memory.</summary>
    public long MemoryRetries => Interlocked.Read(ref _memoryRetries);

    /// <summary>The most rows a batch ran with after running out of memory; null when it never did.</summary>
    public int? RowLimit => _rowLimit == int.MaxValue ? null : _rowLimit;

    /// <summary>Compared documents whose top label differed between the two layouts (float rounding at a tie, at most).</summary>
    public long ComparisonDisagreements => Interlocked.Read(ref _comparisonDisagreements);

    /// <summary>
    /// A hook for tests: called with the rows about to run; throwing <see cref="OutOfMemoryException"/> acts as the
    /// device running out of memory.
    /// </summary>
    internal Action<int>? BeforeForward { get; init; }

    /// <summary>Predicts every batch of <paramref name="input"/> and writes the results to <paramref name="output"/>.</summary>
    public async Task RunAsync(StageContext stage, IBatchReader input, StageWriter<PredictionBatch> output)
    {
        _model.Module.eval();
        await foreach (TensorBatch batch in input.ReadCountedAsync(stage).ConfigureAwait(false))
        {
            PredictionBatch? predicted;
            using (batch)
            {
                predicted = Predict(batch);
            }
            if (predicted is not null)
            {
                await output.WriteAsync(predicted).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs one batch; returns its predictions, or null for a comparison batch.</summary>
    public PredictionBatch? Predict(TensorBatch batch)
    {
        bool comparison = batch.Metadata.ContainsKey(BatchMetadataKeys.Comparison);
        PredictionBatch result = PredictionBatch.For(batch, _model.Outputs);
        if (batch.RowCount > 0)
        {
            Threads.ApplyToCurrentThread();
            if (!_warm)
            {
                // The first forward pass pays for one-time work (kernels chosen, buffers allocated): run it once
                // untimed, so neither layout's time carries it.
                Run(batch, result.Probabilities, 0, batch.RowCount);
                _warm = true;
            }
            long start = Stopwatch.GetTimestamp();
            Run(batch, result.Probabilities, 0, batch.RowCount);
            long elapsed = Stopwatch.GetTimestamp() - start;
            long positions = batch[TaskTensors.InputIds].ElementCount;
            Count(comparison ? Compared : Written, batch.RowCount, positions, batch.TokenCount, elapsed);
            CompareLabels(result, comparison, positions, batch.TokenCount, elapsed);
        }
        return comparison ? null : result;
    }

    private static void Count(LayoutTiming timing, long rows, long positions, long tokens, long ticks)
    {
        Interlocked.Add(ref timing._documents, rows);
        Interlocked.Increment(ref timing._batches);
        Interlocked.Add(ref timing._positions, positions);
        Interlocked.Add(ref timing._tokens, tokens);
        Interlocked.Add(ref timing._ticks, ticks);
    }

    /// <summary>
    /// Comparison batches come before the written batches of their window: their top labels are kept, and when the
    /// written rows of those documents arrive, the written layout's time counts towards the side-by-side ratio and any
    /// label that differs is counted.
    /// </summary>
    private void CompareLabels(PredictionBatch result, bool comparison, long positions, long tokens, long ticks)
    {
        int matched = 0;
        for (int r = 0; r < result.Rows; r++)
        {
            SourcePosition key = result.Positions[r];
            int top = PredictionBatch.Top(result.Row(r));
            if (comparison)
            {
                _comparedLabels[key] = top;
            }
            else if (_comparedLabels.Remove(key, out int other))
            {
                matched++;
                if (other != top)
                {
                    Interlocked.Increment(ref _comparisonDisagreements);
                }
            }
        }
        if (!comparison && matched > 0)
        {
            // The written batch's time, for the documents that were compared (all of them: windows are compared whole).
            Count(WrittenCompared, matched, positions * matched / result.Rows, tokens * matched / result.Rows, ticks * matched / result.Rows);
        }
    }

    /// <summary>Rows [<paramref name="first"/>, +<paramref name="count"/>) into <paramref name="probabilities"/>, halving on out-of-memory.</summary>
    private void Run(TensorBatch batch, float[] probabilities, int first, int count)
    {
        if (count > _rowLimit)
        {
            for (int at = first; at < first + count; at += _rowLimit)
            {
                Run(batch, probabilities, at, Math.Min(_rowLimit, first + count - at));
            }
            return;
        }
        try
        {
            BeforeForward?.Invoke(count);
            using DisposeScope scope = torch.NewDisposeScope();
            using IDisposable noGrad = torch.no_grad();
            DeviceBatch inputs = DeviceBatch.From(batch, _device, first, count);
            Tensor predicted = _model.Predict(inputs).to(ScalarType.Float32).cpu().contiguous();
            long expected = (long)count * _model.Outputs;
            if (predicted.numel() != expected)
            {
                throw new InvalidOperationException($"The model predicted {predicted.numel()} values for {count} rows of {_model.Outputs} outputs (batch {batch.Sequence}).");
            }
            predicted.data<float>().CopyTo(probabilities, first * _model.Outputs);
        }
        catch (Exception ex) when (IsOutOfMemory(ex) && count > 1)
        {
            Interlocked.Increment(ref _memoryRetries);
            _rowLimit = Math.Max(1, count / 2);
            Run(batch, probabilities, first, count);
        }
    }

    /// <summary>libtorch reports CUDA (and CPU allocator) exhaustion as an error whose message says "out of memory".</summary>
    private static bool IsOutOfMemory(Exception ex) =>
        ex is OutOfMemoryException || (ex is ExternalException or InvalidOperationException or ApplicationException && ex.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase));
}
