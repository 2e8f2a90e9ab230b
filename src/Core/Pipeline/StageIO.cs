using System.Diagnostics;
using System.Threading.Channels;

namespace StreamLoader.Core.Pipeline;

/// <summary>A stage's view of its input channel. Time spent waiting for items is counted as waiting upstream.</summary>
public sealed class StageReader<T>
{
    private readonly ChannelReader<T> _reader;
    private readonly StageCounters _counters;
    private readonly CancellationToken _cancellationToken;

    internal StageReader(ChannelReader<T> reader, StageCounters counters, CancellationToken cancellationToken)
    {
        _reader = reader;
        _counters = counters;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Waits until an item is available (true) or the channel is completed (false).</summary>
    public ValueTask<bool> WaitToReadAsync() => WaitToReadAsync(_cancellationToken);

    /// <summary>
    /// Waits as <see cref="WaitToReadAsync()"/> does, but ends on <paramref name="cancellationToken"/>: for helpers
    /// inside a stage (a worker pool) that stop before the stage does. Link it to the stage's own token.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        ValueTask<bool> wait = _reader.WaitToReadAsync(cancellationToken);
        return wait.IsCompletedSuccessfully ? wait : WaitSlowAsync(wait);
    }

    // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WaitSlowAsync(ValueTask<bool> wait)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            return await wait.ConfigureAwait(false);
        }
        finally
        {
            _counters.AddWaitUpstream(Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>Takes an item if one is queued.</summary>
    public bool TryRead(out T item)
    {
        if (_reader.TryRead(out item!))
        {
            _counters.AddIn();
            return true;
        }
        return false;
    }

    /// <summary>Every item until the channel completes. Rethrows the upstream stage's fault.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync()
    {
        while (await WaitToReadAsync().ConfigureAwait(false))
        {
            while (TryRead(out T item))
            {
                yield return item;
            }
        }
    }
}

/// <summary>A stage's view of its output channel. Time blocked on a full channel is counted as waiting downstream.</summary>
public sealed class StageWriter<T>
{
    private readonly ChannelWriter<T> _writer;
    private readonly StageCounters _counters;
    private readonly CancellationToken _cancellationToken;

    internal StageWriter(ChannelWriter<T> writer, StageCounters counters, CancellationToken cancellationToken)
    {
        _writer = writer;
        _counters = counters;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Queues an item, waiting while the channel is full.</summary>
    public ValueTask WriteAsync(T item, long bytes = 0, long tokens = 0)
    {
        if (_writer.TryWrite(item))
        {
            _counters.AddOut(1, bytes, tokens);
            return ValueTask.CompletedTask;
        }
        return WriteSlowAsync(item, bytes, tokens);
    }

    // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync(T item, long bytes, long tokens)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            while (await _writer.WaitToWriteAsync(_cancellationToken).ConfigureAwait(false))
            {
                if (_writer.TryWrite(item))
                {
                    _counters.AddOut(1, bytes, tokens);
                    return;
                }
            }
        }
        finally
        {
            _counters.AddWaitDownstream(Stopwatch.GetTimestamp() - start);
        }
        throw new ChannelClosedException("The downstream channel was closed before the item could be written.");
    }
}

/// <summary>Timing helpers for waits that do not go through a pipeline channel (sockets, transports).</summary>
public static class StageTiming
{
    /// <summary>Awaits <paramref name="operation"/> and counts the time as waiting upstream.</summary>
    // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<TResult> WaitUpstreamAsync<TResult>(this StageCounters counters, ValueTask<TResult> operation)
    {
        if (operation.IsCompletedSuccessfully)
        {
            return operation.Result;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            return await operation.ConfigureAwait(false);
        }
        finally
        {
            counters.AddWaitUpstream(Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>Awaits <paramref name="operation"/> and counts the time as waiting downstream.</summary>
    // Pooled: this runs per document or per batch, and a box per await would be its only allocation.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask WaitDownstreamAsync(this StageCounters counters, ValueTask operation)
    {
        if (operation.IsCompletedSuccessfully)
        {
            return;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            await operation.ConfigureAwait(false);
        }
        finally
        {
            counters.AddWaitDownstream(Stopwatch.GetTimestamp() - start);
        }
    }
}
