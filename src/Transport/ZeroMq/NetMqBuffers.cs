using NetMQ;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// Switches NetMQ from allocating a fresh array for every message (its default) to a bounded buffer pool. Frames are
/// hundreds of KB, so without it each batch costs large-object-heap allocations on both ends.
/// </summary>
internal static class NetMqBuffers
{
    private const long PoolBytes = 512L << 20;
    private const int LargestPooledBuffer = 64 << 20;
    private static int s_configured;

    public static void UsePooling()
    {
        if (Interlocked.Exchange(ref s_configured, 1) == 0)
        {
            BufferPool.SetBufferManagerBufferPool(PoolBytes, LargestPooledBuffer);
        }
    }
}
