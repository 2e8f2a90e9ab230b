using System.Net.Sockets;
using StreamLoader.Core.Storage;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Catalog;

namespace StreamLoader.Transport.Streams;

/// <summary>Frames over a Unix domain socket, <c>unix:PATH</c>: the loader listens for one reader, which connects.</summary>
public sealed class UnixSocketTransportKind : ITransportKind
{
    private const string Scheme = "unix:";

    public string Name => "unix";

    public string Summary => "a Unix socket: unix:PATH (one reader, on this machine)";

    public int Probe(string location) => location.StartsWith(Scheme, StringComparison.Ordinal) ? 3 : 0;

    public string? WriterWaits(string location) => $"loader: waiting for the reader to connect to {location} ...";

    public async Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        await ListenAsync(location, cancellationToken).ConfigureAwait(false);

    public async Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        await ConnectAsync(location, cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>Listens on the socket's path and waits for one reader to connect.</summary>
    public static async Task<StreamBatchWriter> ListenAsync(string location, CancellationToken cancellationToken = default)
    {
        string path = location[Scheme.Length..];
        if (File.Exists(path))
        {
            File.Delete(path);
        }
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        Socket client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        return new StreamBatchWriter(new NetworkStream(client, ownsSocket: true), location);
    }

    /// <summary>Connects to the socket's path, retrying until the writer listens or <paramref name="connectTimeout"/> (30 s) passes.</summary>
    public static async Task<StreamBatchReader> ConnectAsync(string location, TimeSpan? connectTimeout = null, CancellationToken cancellationToken = default)
    {
        string path = location[Scheme.Length..];
        DateTime deadline = DateTime.UtcNow + (connectTimeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                return new StreamBatchReader(new NetworkStream(socket, ownsSocket: true), location);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new IOException($"{location}: no loader is listening ({ex.Message}).", ex);
            }
        }
    }
}

/// <summary>Frames over standard output (the loader) and standard input (the device): <c>-</c>, for a pipe.</summary>
public sealed class StandardStreamsTransportKind : ITransportKind
{
    public string Name => "pipe";

    public string Summary => "a pipe: - (the loader's stdout into the device's stdin)";

    public int Probe(string location) => location == "-" ? 3 : 0;

    public Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions options, CancellationToken cancellationToken)
    {
        // Not Console.OpenStandardOutput(): the console stream ignores EPIPE, so a loader whose reader exited
        // would go on producing forever. A FileStream on fd 1 reports the closed pipe as an IOException.
        var stdout = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        return Task.FromResult<IBatchWriter>(new StreamBatchWriter(stdout, "stdout"));
    }

    public Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions options, CancellationToken cancellationToken)
    {
        var stdin = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 1 << 16);
        return Task.FromResult<IBatchReader>(new StreamBatchReader(stdin, "stdin"));
    }
}

/// <summary>Frames in a file: any other location. The loader writes it (to replay, or to inspect); a device reads it.</summary>
public sealed class FrameFileTransportKind : ITransportKind
{
    public string Name => "file";

    public string Summary => "a frame file: any other path (written whole by the loader, read by a device)";

    public int Probe(string location) => 1;

    public Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IBatchWriter>(Create(location));

    public Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<IBatchReader>(Open(location));

    /// <summary>Creates (or replaces) the frame file; one that cannot be written is an output failure naming it.</summary>
    public static StreamBatchWriter Create(string path) => new(OutputFileStream.Create(path, 1 << 20, useAsync: true), path);

    /// <summary>Opens a frame file to read.</summary>
    public static StreamBatchReader Open(string path) =>
        File.Exists(path)
            ? new StreamBatchReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true), path)
            : throw new FileNotFoundException($"{path}: no such frame file.", path);
}
