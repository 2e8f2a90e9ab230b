using StreamLoader.Core.Transport;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Transport.Catalog;

/// <summary>
/// One way batches travel between processes: how its locations look, and how to open each end. Adding one is a class
/// registered in <see cref="TransportCatalog.Default"/>, shaped like the provider's source formats and the batcher's
/// tokenizer families.
/// </summary>
public interface ITransportKind
{
    /// <summary>Its name, for help and errors.</summary>
    string Name { get; }

    /// <summary>One line for <c>--help</c>: what its locations look like and what it is for.</summary>
    string Summary { get; }

    /// <summary>
    /// How sure it is that <paramref name="location"/> is one of its own: 0 for not at all, else a confidence the catalog
    /// compares with the other kinds' (a scheme of its own is 3; a plain path, the fallback, 1).
    /// </summary>
    int Probe(string location);

    /// <summary>A line to show while the writer waits to open (a Unix socket waits for its reader), or null.</summary>
    string? WriterWaits(string location) => null;

    /// <summary>The loader's end.</summary>
    Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions options, CancellationToken cancellationToken);

    /// <summary>The device's end.</summary>
    Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions options, CancellationToken cancellationToken);

    /// <summary>Releases what the kind keeps for the process (ZeroMQ's background threads) when nothing uses it; true when it did.</summary>
    bool ReleaseIdle() => false;
}

/// <summary>What opening an end may need: the reader's window of batches, and ZeroMQ's settings.</summary>
/// <param name="Window">Batches a reader asks for ahead (ZeroMQ credit).</param>
/// <param name="ZeroMq">Timeouts, limits and keys for ZeroMQ ends; null for the defaults.</param>
public sealed record TransportEndOptions(int Window = 4, ZeroMqOptions? ZeroMq = null);
