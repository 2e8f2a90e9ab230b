using StreamLoader.Core.Plugins;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Streams;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Transport.Catalog;

/// <summary>The transports, chosen by the location given (<c>--out</c>, <c>--in</c>): the kind surest of it opens it.</summary>
public sealed class TransportCatalog
{
    /// <summary>A catalog of <paramref name="kinds"/>.</summary>
    public TransportCatalog(IEnumerable<ITransportKind> kinds)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        Kinds = [.. kinds];
    }

    /// <summary>The transports StreamLoader ships: one registration each.</summary>
    public static TransportCatalog Default { get; } = new(
    [
        new ZeroMqTransportKind(),
        new UnixSocketTransportKind(),
        new StandardStreamsTransportKind(),
        new FrameFileTransportKind(),
    ]);

    /// <summary>Every kind, in registration order.</summary>
    public IReadOnlyList<ITransportKind> Kinds { get; }

    /// <summary>The kind that opens <paramref name="location"/>.</summary>
    public ITransportKind Resolve(string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        return PluginTypes.MostConfident(Kinds, k => k.Probe(location)) ?? throw new ArgumentException($"{location}: no transport takes this location ({string.Join("; ", Kinds.Select(k => k.Summary))}).");
    }

    /// <summary>The loader's end at <paramref name="location"/>.</summary>
    public Task<IBatchWriter> OpenWriterAsync(string location, TransportEndOptions? options = null, CancellationToken cancellationToken = default) =>
        Resolve(location).OpenWriterAsync(location, options ?? new TransportEndOptions(), cancellationToken);

    /// <summary>
    /// The device's end. Several locations separated by commas (one device fed by several loaders) are read as one
    /// stream, which ends once each of them has ended.
    /// </summary>
    public async Task<IBatchReader> OpenReaderAsync(string location, TransportEndOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        options ??= new TransportEndOptions();
        string[] locations = location.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (locations.Length <= 1)
        {
            return await Resolve(location).OpenReaderAsync(location, options, cancellationToken).ConfigureAwait(false);
        }
        var readers = new List<IBatchReader>(locations.Length);
        foreach (string each in locations)
        {
            readers.Add(await Resolve(each).OpenReaderAsync(each, options, cancellationToken).ConfigureAwait(false));
        }
        return new MergedBatchReader(readers);
    }

    /// <summary>At process exit: each kind releases what it keeps for the process, when nothing uses it. True when any did.</summary>
    public bool ReleaseIdle()
    {
        bool any = false;
        foreach (ITransportKind kind in Kinds)
        {
            any |= kind.ReleaseIdle();
        }
        return any;
    }
}
