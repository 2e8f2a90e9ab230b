using StreamLoader.Core.Transport;
using StreamLoader.Transport.Streams;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Transport;

/// <summary>Opens a transport end from a location: ZeroMQ endpoints (<c>tcp://</c>, <c>ipc://</c>, <c>inproc://</c>), or streams (<c>-</c>, <c>unix:PATH</c>, a file).</summary>
public static class TransportFactory
{
    /// <summary>
    /// Releases ZeroMQ's background threads at process exit, unless a ZeroMQ end is still open in this process (its
    /// sockets would die under it); returns whether it did.
    /// </summary>
    public static bool Shutdown() => NetMqRuntime.ShutdownIfIdle();

    /// <summary>True for locations the ZeroMQ transport handles.</summary>
    public static bool IsZeroMq(string location) =>
        location.StartsWith("tcp://", StringComparison.Ordinal) || location.StartsWith("ipc://", StringComparison.Ordinal) || location.StartsWith("inproc://", StringComparison.Ordinal);

    /// <summary>The loader's end. ZeroMQ binds the endpoint (use <c>tcp://*:5555</c> to listen on every interface).</summary>
    public static async Task<IBatchWriter> OpenWriterAsync(string location, ZeroMqOptions? zeroMq = null, CancellationToken cancellationToken = default) =>
        IsZeroMq(location) ? new ZeroMqBatchWriter(location, zeroMq) : await StreamTransports.OpenWriterAsync(location, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The device's end. ZeroMQ connects to the endpoint and grants <paramref name="window"/> batches of credit. Several
    /// locations (one device fed by several loaders) are read as one stream, which ends once each of them has ended.
    /// </summary>
    public static async Task<IBatchReader> OpenReaderAsync(string location, int window = 4, ZeroMqOptions? zeroMq = null, CancellationToken cancellationToken = default)
    {
        string[] locations = location.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (locations.Length > 1)
        {
            var readers = new List<IBatchReader>(locations.Length);
            foreach (string each in locations)
            {
                readers.Add(await OpenReaderAsync(each, window, zeroMq, cancellationToken).ConfigureAwait(false));
            }
            return new MergedBatchReader(readers);
        }
        return IsZeroMq(location) ? new ZeroMqBatchReader(location, window, zeroMq) : await StreamTransports.OpenReaderAsync(location, cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
