using StreamLoader.Core.Transport;
using StreamLoader.Transport.Catalog;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>ZeroMQ ROUTER/DEALER with credit and acknowledgements (docs/WIRE.md): the loader binds, devices connect.</summary>
public sealed class ZeroMqTransportKind : ITransportKind
{
    public string Name => "zeromq";

    public string Summary => "ZeroMQ: tcp://HOST:PORT, ipc://PATH or inproc://NAME (the loader binds tcp://*:5555; devices connect), across processes and machines";

    public int Probe(string location) =>
        location.StartsWith("tcp://", StringComparison.Ordinal) || location.StartsWith("ipc://", StringComparison.Ordinal) || location.StartsWith("inproc://", StringComparison.Ordinal) ? 3 : 0;

    public Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IBatchWriter>(new ZeroMqBatchWriter(location, options.ZeroMq));

    public Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IBatchReader>(new ZeroMqBatchReader(location, options.Window, options.ZeroMq));

    /// <summary>Releases ZeroMQ's background threads, unless a ZeroMQ end is still open in this process (its sockets would die under it).</summary>
    public bool ReleaseIdle() => NetMqRuntime.ShutdownIfIdle();
}
