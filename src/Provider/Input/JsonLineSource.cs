using System.Runtime.CompilerServices;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>
/// The reader kit's base for a format whose records are JSON lines (JSON Lines, CirrusSearch dumps): opening the input
/// (local or over HTTP, plain or compressed), starting at a saved line for a resume, the input's identity, and what a
/// resume learns while reading (whether the input can be sought in, the URL's version). A format supplies only how its
/// lines become documents (<see cref="ReadLinesAsync"/>).
/// </summary>
public abstract class JsonLineSource : ISeekableSource
{
    private readonly HttpClient? _http;
    private readonly HttpReadOptions _httpOptions;
    private readonly LineReaderOptions _lines;
    private readonly string _what;
    private readonly Lazy<string> _fingerprint;

    /// <param name="location">The path or URL.</param>
    /// <param name="http">The client for URLs, or null for the provider's own.</param>
    /// <param name="httpOptions">HTTP resume settings.</param>
    /// <param name="lines">Line handling (record limit, bad-record policy).</param>
    /// <param name="statistics">Counters to count into, or null for the source's own.</param>
    /// <param name="what">The format as errors name it ("JSON Lines", "a CirrusSearch dump").</param>
    /// <param name="fingerprint">The source's identity from the input's (<see cref="InputIdentity.Describe"/>): its format and the settings that change what it yields.</param>
    private protected JsonLineSource(string location, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions lines, SourceStatistics? statistics, string what, Func<string, string> fingerprint)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        Location = location;
        _http = http;
        _httpOptions = httpOptions;
        _lines = lines;
        _what = what;
        Statistics = statistics ?? new SourceStatistics();
        // PublicationOnly: a missing file is not remembered as missing once it appears.
        _fingerprint = new Lazy<string>(() => fingerprint(InputIdentity.Describe(location)), LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The path or URL read.</summary>
    protected string Location { get; }

    public abstract string Description { get; }

    /// <summary>
    /// What the input is (see <see cref="InputIdentity.Describe"/>, so the same file under another name matches) and
    /// the settings that change what it yields. Worked out once, on first use; fails with
    /// <see cref="FileNotFoundException"/> for a missing file.
    /// </summary>
    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>True once reading has found a local, uncompressed file, whose records a resume can seek to.</summary>
    public bool CanSeek { get; private set; }

    /// <summary>The version label of a URL being read (its ETag or Last-Modified), known once reading has begun.</summary>
    public string? SeekValidator { get; private set; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using JsonLineCursor lines = await JsonLineCursor.OpenAsync(Location, _http, _httpOptions, _lines, Statistics, _what, cancellationToken).ConfigureAwait(false);
        await foreach (Document document in RecordsAsync(lines, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    /// <summary>Reads from the record that starts at <paramref name="offset"/> (line <paramref name="line"/>).</summary>
    public async IAsyncEnumerable<Document> ReadFromAsync(long offset, long line, string? validator, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using JsonLineCursor lines = await JsonLineCursor.OpenAtAsync(Location, offset, line, validator, _http, _httpOptions, _lines, Statistics, _what, cancellationToken).ConfigureAwait(false);
        await foreach (Document document in RecordsAsync(lines, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    private IAsyncEnumerable<Document> RecordsAsync(JsonLineCursor lines, CancellationToken cancellationToken)
    {
        // Describe the input as it is being read, so a position saved later names this input.
        _ = Fingerprint;
        CanSeek = lines.IsSeekable;
        SeekValidator = lines.Validator;
        return ReadLinesAsync(lines, cancellationToken);
    }

    /// <summary>
    /// The documents of the lines <paramref name="lines"/> yields: parse each, count a bad one's skip by reason with
    /// its position (<see cref="JsonLineCursor.Bad"/>), and give each document its <see cref="Document.SourceOffset"/>
    /// (where a resume may seek to, when <see cref="JsonLineCursor.IsSeekable"/>) and line.
    /// </summary>
    private protected abstract IAsyncEnumerable<Document> ReadLinesAsync(JsonLineCursor lines, CancellationToken cancellationToken);
}
