using NetMQ;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// The time a ZeroMQ transport end measures heartbeats and silences on, from <see cref="ZeroMqOptions.Time"/>, and a
/// ticker that runs the end's timer work on its socket's thread: a <see cref="TimeProvider"/> timer posts each tick into
/// a queue the poller watches. With the system clock it is a plain periodic timer; with a test's fake clock, ticks come
/// as the test advances it, so a test of timeouts needs no real waiting.
/// </summary>
internal sealed class ZeroMqClock : IDisposable
{
    private readonly TimeProvider _time;
    private readonly NetMQQueue<bool> _ticks = new();
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Starts ticking every <paramref name="period"/>; <paramref name="onTick"/> runs on the poller's thread.</summary>
    public ZeroMqClock(TimeProvider time, TimeSpan period, Action onTick)
    {
        _time = time;
        _ticks.ReceiveReady += (_, e) =>
        {
            while (e.Queue.TryDequeue(out bool _, TimeSpan.Zero))
            {
            }
            onTick();
        };
        _timer = time.CreateTimer(static state => ((ZeroMqClock)state!).Post(), this, period, period);
    }

    /// <summary>What the poller watches for ticks.</summary>
    public ISocketPollable Ticks => _ticks;

    /// <summary>Milliseconds on this clock (its own origin: only differences mean anything).</summary>
    public long NowMilliseconds
    {
        get
        {
            // Exact integer arithmetic: through a double, a timestamp far from zero loses its last bits, and a
            // heartbeat period later could read as a millisecond short of it.
            long timestamp = _time.GetTimestamp();
            long frequency = _time.TimestampFrequency;
            return (timestamp / frequency * 1000) + (timestamp % frequency * 1000 / frequency);
        }
    }

    /// <summary>Ticks every <paramref name="period"/> from now on.</summary>
    public void Change(TimeSpan period) => _timer.Change(period, period);

    private void Post()
    {
        lock (_gate)
        {
            // A tick that fires while the end is being disposed is dropped, never posted to a disposed queue.
            if (!_disposed)
            {
                _ticks.Enqueue(true);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _timer.Dispose();
        _ticks.Dispose();
    }
}
