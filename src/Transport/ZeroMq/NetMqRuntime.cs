using NetMQ;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// What every ZeroMQ end shares in one process: NetMQ's buffer pool, its global context, and the rule for the poller
/// thread's handlers.
/// </summary>
/// <remarks>
/// <para>
/// NetMQ allocates a fresh array for every message by default; frames are hundreds of KB, so each end switches it to
/// a bounded pool once.
/// </para>
/// <para>
/// The context is global. Terminating it (<see cref="ShutdownIfIdle"/>, at process exit) kills every socket still
/// open, wherever it is, so it is terminated only when no end holds a <see cref="Lease"/>: a console run that finishes
/// inside a process where other ends still work (a host, a test run) leaves them working. A lease is taken before an
/// end creates its first socket (queues and pollers are sockets too), under the lock that termination takes.
/// </para>
/// </remarks>
internal static class NetMqRuntime
{
    private const long PoolBytes = 512L << 20;
    private const int LargestPooledBuffer = 64 << 20;
    private static readonly Lock s_gate = new();
    private static int s_configured;
    private static int s_live;

    /// <summary>Marks one end as live until the lease is disposed; call before creating any of its sockets.</summary>
    public static Lease Acquire()
    {
        UsePooling();
        lock (s_gate)
        {
            s_live++;
        }
        return new Lease();
    }

    /// <summary>Switches NetMQ to the bounded buffer pool (once per process).</summary>
    public static void UsePooling()
    {
        if (Interlocked.Exchange(ref s_configured, 1) == 0)
        {
            BufferPool.SetBufferManagerBufferPool(PoolBytes, LargestPooledBuffer);
        }
    }

    /// <summary>Ends currently holding a lease.</summary>
    public static int Live
    {
        get
        {
            lock (s_gate)
            {
                return s_live;
            }
        }
    }

    /// <summary>Releases NetMQ's background threads if no end is open; returns whether it did.</summary>
    public static bool ShutdownIfIdle()
    {
        lock (s_gate)
        {
            if (s_live > 0)
            {
                return false;
            }
            NetMQConfig.Cleanup(block: false);
            return true;
        }
    }

    /// <summary>
    /// Wraps a handler that runs on a poller's thread: an exception escaping it would end the process (nothing above
    /// that thread catches), so it goes to <paramref name="fail"/>, which fails the end that owns the poller instead.
    /// </summary>
    public static EventHandler<T> Guard<T>(EventHandler<T> handler, Action<Exception> fail) => (sender, e) =>
    {
        try
        {
            handler(sender, e);
        }
        catch (Exception ex)
        {
            fail(ex);
        }
    };

    /// <inheritdoc cref="Guard{T}(EventHandler{T}, Action{Exception})"/>
    public static Action Guard(Action handler, Action<Exception> fail) => () =>
    {
        try
        {
            handler();
        }
        catch (Exception ex)
        {
            fail(ex);
        }
    };

    /// <summary>What a poller handler's exception says to the user: a terminated context is named as such.</summary>
    public static string Describe(string description, Exception error) => error is TerminatingException
        ? $"{description}: ZeroMQ was shut down in this process while this end was open"
        : $"{description}: the socket's thread failed: {error.Message}";

    /// <summary>One live end; disposing it (once) lets the context be terminated when it was the last.</summary>
    public sealed class Lease : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                lock (s_gate)
                {
                    s_live--;
                }
            }
        }
    }
}
