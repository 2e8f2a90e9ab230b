using System.Runtime.CompilerServices;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Decoding;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Provider.Catalog;

/// <summary>Several files or URLs read as one source, in the order given, each in its own (detected) format.</summary>
/// <remarks>
/// Document ids are prefixed with the file's position (<c>3:page-12</c>) so ids stay unique across files. Each part
/// is opened only when it is read, so a list of thousands of URLs costs nothing up front.
/// </remarks>
public sealed class FileSetSource : IPartitionedSource
{
    private readonly IReadOnlyList<string> _locations;
    private readonly Func<string, SourceStatistics, IDocumentSource> _open;
    private readonly Lazy<string> _fingerprint;
    private readonly IDocumentSource?[] _parts;

    /// <param name="locations">The parts, in order.</param>
    /// <param name="open">Opens one part, counting into the statistics it is given.</param>
    /// <param name="settingsDescription">The reading settings, for the fingerprint.</param>
    /// <param name="statistics">The counters to count into (a mix passes a child of its own), or null for the set's own.</param>
    /// <param name="partsAtOnce">Files read at once, each ahead of its turn (<see cref="IPartitionedSource.PartsAtOnce"/>).</param>
    public FileSetSource(IReadOnlyList<string> locations, Func<string, SourceStatistics, IDocumentSource> open, string settingsDescription, SourceStatistics? statistics = null, int partsAtOnce = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partsAtOnce, 1);
        PartsAtOnce = partsAtOnce;
        Statistics = statistics ?? new SourceStatistics();
        ArgumentOutOfRangeException.ThrowIfZero(locations.Count);
        _locations = locations;
        _open = open;
        _parts = new IDocumentSource?[locations.Count];
        long? total = 0;
        foreach (string location in locations)
        {
            total = File.Exists(location) && total is long sum ? sum + new FileInfo(location).Length : null;
        }
        Statistics.SetRawTotal(total);
        // What each file is (its identity, not its opened reader): the formats follow from the files and the settings,
        // so a resume checks a set of thousands of files without opening and sniffing every one of them first.
        _fingerprint = new Lazy<string>(() => $"files({_locations.Count})|{settingsDescription}|" + string.Join('|', _locations.Select(InputIdentity.Describe)), LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"{_locations.Count} files ({_locations[0]}, …)";

    /// <summary>Every file's identity, in order, and the settings: resuming against a changed, added or removed file is refused.</summary>
    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    public int PartitionCount => _locations.Count;

    public int PartsAtOnce { get; }

    /// <summary>The part's source (opened lazily; reading has not started).</summary>
    public IDocumentSource Part(int index) => _parts[index] ??= _open(_locations[index], new SourceStatistics(Statistics, order: index));

    public string DescribePartition(int index) => _locations[index];

    public IAsyncEnumerable<Document> ReadAsync(CancellationToken cancellationToken = default) => PartReader.ReadAllAsync(this, cancellationToken);

    public async IAsyncEnumerable<Document> ReadPartitionAsync(int index, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string prefix = $"{index}:";
        string name = _locations[index];
        await foreach (Document document in Part(index).ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // The serial stage's stand-in for a record passes as it is (bench measures that stage alone).
            yield return ReferenceEquals(document, SerialStage.Record) ? document : document with { Id = prefix + document.Id, SourceName = name };
        }
    }
}
