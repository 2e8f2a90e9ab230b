using System.Diagnostics;

namespace StreamLoader.Core.Pipeline;

/// <summary>Live counters of one pipeline stage: items and bytes in and out, and where its time went.</summary>
/// <remarks>
/// Waiting upstream is time spent blocked on an empty input (the stage before is slower); waiting downstream is
/// time blocked on a full output (the stage after is slower). Busy time is the rest of the stage's wall time,
/// unless a worker pool reports its summed busy time explicitly.
/// </remarks>
public sealed class StageCounters
{
    private long _itemsIn;
    private long _itemsOut;
    private long _bytesIn;
    private long _bytesOut;
    private long _tokensOut;
    private long _tokensIn;
    private long _waitUpstream;
    private long _waitDownstream;
    private long _workerBusy;
    private long _started;
    private long _stopped;
    private long _firstIn;
    private long _firstOut;

    public StageCounters(string name)
    {
        Name = name;
    }

    /// <summary>The stage's name ("provider", "batcher", "device").</summary>
    public string Name { get; }

    public long ItemsIn => Interlocked.Read(ref _itemsIn);

    public long ItemsOut => Interlocked.Read(ref _itemsOut);

    public long TokensOut => Interlocked.Read(ref _tokensOut);

    /// <summary>Tokens in the items taken in, where the stage counts them (batch consumers).</summary>
    public long TokensIn => Interlocked.Read(ref _tokensIn);

    public void Start() => Interlocked.CompareExchange(ref _started, Stopwatch.GetTimestamp(), 0);

    public void Stop() => Interlocked.CompareExchange(ref _stopped, Stopwatch.GetTimestamp(), 0);

    /// <summary>When the first item came in (a <see cref="Stopwatch"/> timestamp), or 0 before it.</summary>
    public long FirstInTimestamp => Interlocked.Read(ref _firstIn);

    /// <summary>When the first item went out (a <see cref="Stopwatch"/> timestamp), or 0 before it.</summary>
    public long FirstOutTimestamp => Interlocked.Read(ref _firstOut);

    public void AddIn(long items = 1, long bytes = 0, long tokens = 0)
    {
        if (_firstIn == 0 && items > 0)
        {
            Interlocked.CompareExchange(ref _firstIn, Stopwatch.GetTimestamp(), 0);
        }
        Interlocked.Add(ref _itemsIn, items);
        Interlocked.Add(ref _bytesIn, bytes);
        Interlocked.Add(ref _tokensIn, tokens);
    }

    public void AddOut(long items = 1, long bytes = 0, long tokens = 0)
    {
        if (_firstOut == 0 && items > 0)
        {
            Interlocked.CompareExchange(ref _firstOut, Stopwatch.GetTimestamp(), 0);
        }
        Interlocked.Add(ref _itemsOut, items);
        Interlocked.Add(ref _bytesOut, bytes);
        Interlocked.Add(ref _tokensOut, tokens);
    }

    /// <summary>Adds time (in <see cref="Stopwatch"/> ticks) spent waiting for the stage before.</summary>
    public void AddWaitUpstream(long ticks) => Interlocked.Add(ref _waitUpstream, ticks);

    /// <summary>Adds time (in <see cref="Stopwatch"/> ticks) spent waiting for the stage after.</summary>
    public void AddWaitDownstream(long ticks) => Interlocked.Add(ref _waitDownstream, ticks);

    /// <summary>Adds busy time of a worker in a pool (in <see cref="Stopwatch"/> ticks).</summary>
    public void AddWorkerBusy(long ticks) => Interlocked.Add(ref _workerBusy, ticks);

    /// <summary>A consistent-enough copy of the counters for reports and progress displays.</summary>
    public StageSnapshot Snapshot()
    {
        long started = Interlocked.Read(ref _started);
        long stopped = Interlocked.Read(ref _stopped);
        long end = stopped != 0 ? stopped : Stopwatch.GetTimestamp();
        double wall = started == 0 ? 0 : Seconds(end - started);
        double up = Seconds(Interlocked.Read(ref _waitUpstream));
        double down = Seconds(Interlocked.Read(ref _waitDownstream));
        long workerBusy = Interlocked.Read(ref _workerBusy);
        return new StageSnapshot(
            Name,
            ItemsIn,
            ItemsOut,
            Interlocked.Read(ref _bytesIn),
            Interlocked.Read(ref _bytesOut),
            TokensOut,
            wall,
            Math.Max(0, wall - up - down),
            up,
            down,
            workerBusy == 0 ? null : Seconds(workerBusy));
    }

    private static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;
}

/// <summary>A point-in-time copy of <see cref="StageCounters"/>; times in seconds.</summary>
public sealed record StageSnapshot(
    string Name,
    long ItemsIn,
    long ItemsOut,
    long BytesIn,
    long BytesOut,
    long TokensOut,
    double WallSeconds,
    double BusySeconds,
    double WaitUpstreamSeconds,
    double WaitDownstreamSeconds,
    double? WorkerBusySeconds);
