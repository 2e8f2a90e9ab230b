using StreamLoader.Core.Documents;
using StreamLoader.Provider.Arrow;
using StreamLoader.Provider.BuiltIn;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Csv;
using StreamLoader.Provider.Jsonl;
using StreamLoader.Provider.Mixing;
using StreamLoader.Provider.Parquet;
using StreamLoader.Provider.Text;
using StreamLoader.Provider.Wikipedia;

namespace StreamLoader.Provider;

/// <summary>The provider's formats, registered once, and the entry point that opens what <c>--source</c> names.</summary>
public static class SourceFactory
{
    /// <summary>The name that selects the built-in corpus.</summary>
    public const string BuiltInName = SourceCatalog.BuiltInName;

    /// <summary>
    /// Every format the provider reads, in detection priority order. A new format is a folder under
    /// <c>src/Provider</c> with an <see cref="ISourceFormat"/>, and one line here.
    /// </summary>
    public static SourceCatalog Catalog { get; } = new(
    [
        new BuiltInFormat(),
        new HuggingFaceDatasetFormat(),
        new ParquetFormat(),
        new ArrowFormat(),
        new WikipediaXmlFormat(),
        new CirrusSearchFormat(),
        new JsonlFormat(),
        CsvFormat.Tsv,
        CsvFormat.Csv,
        new TextFormat(),
    ]);

    /// <summary>Opens one location (a path, URL, folder, glob, <c>@list</c> or <c>builtin</c>).</summary>
    public static IDocumentSource Create(string location, SourceSettings? settings = null, HttpClient? http = null) =>
        Catalog.Open([location], settings ?? new SourceSettings(), http);

    /// <summary>Opens several locations as one source (their files in order), or, with weights, as a mix of them.</summary>
    /// <param name="locations">What followed each <c>--source</c>.</param>
    /// <param name="settings">Format, columns and policies; the defaults when null.</param>
    /// <param name="weights">One weight per location to mix them (<see cref="MixedSource"/>), or null to read them as one source.</param>
    /// <param name="http">The client for URLs, or null for the provider's own.</param>
    public static IDocumentSource Create(IReadOnlyList<string> locations, SourceSettings? settings = null, IReadOnlyList<double>? weights = null, HttpClient? http = null)
    {
        settings ??= new SourceSettings();
        if (weights is null)
        {
            return Catalog.Open(locations, settings, http);
        }
        var statistics = new SourceStatistics();
        return new MixedSource(locations.Select((l, k) => Catalog.Open([l], settings, http, new SourceStatistics(statistics, order: k))).ToList(), weights, statistics);
    }
}
