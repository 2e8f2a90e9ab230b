using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.BuiltIn;

/// <summary>The built-in corpus (<c>--source builtin</c>): prose from the .NET SDK's XML documentation, no network, no files.</summary>
public sealed class BuiltInFormat : ISourceFormat
{
    public string Name => SourceCatalog.BuiltInName;

    public IReadOnlyList<string> Aliases => [];

    public string Summary => "prose from the .NET SDK's XML docs (--source builtin): no network, no files";

    public IReadOnlyList<SourceOptionInfo> Options => [];

    public SniffResult Sniff(SourceProbe probe) =>
        string.Equals(probe.Location, SourceCatalog.BuiltInName, StringComparison.OrdinalIgnoreCase) ? SniffResult.Certain : SniffResult.No;

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        XmlDocumentationCorpus.Discover();
}
