using StreamLoader.Core.Documents;
using StreamLoader.Provider.BuiltIn;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Jsonl;
using StreamLoader.Provider.Wikipedia;

namespace StreamLoader.Provider;

/// <summary>Input formats the provider reads.</summary>
public enum SourceFormat
{
    /// <summary>Decide from the name: <c>cirrussearch</c> in the name means a CirrusSearch dump; <c>.jsonl</c>/<c>.json</c> otherwise JSON Lines.</summary>
    Auto,

    /// <summary>Wikipedia CirrusSearch content dump.</summary>
    CirrusSearch,

    /// <summary>JSON Lines with a text field.</summary>
    Jsonl,

    /// <summary>The built-in corpus (XML documentation prose).</summary>
    BuiltIn,
}

/// <summary>Settings for <see cref="SourceFactory.Create"/>.</summary>
public sealed record SourceSettings
{
    public SourceFormat Format { get; init; } = SourceFormat.Auto;

    /// <summary>JSONL text field.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>JSONL id field.</summary>
    public string IdField { get; init; } = "id";

    /// <summary>Line handling.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>Opens the right reader for a location ("builtin", a path, or an http(s) URL).</summary>
public static class SourceFactory
{
    /// <summary>The name that selects the built-in corpus.</summary>
    public const string BuiltInName = "builtin";

    public static IDocumentSource Create(string location, SourceSettings? settings = null, HttpClient? http = null)
    {
        settings ??= new SourceSettings();
        SourceFormat format = settings.Format == SourceFormat.Auto ? Detect(location) : settings.Format;
        return format switch
        {
            SourceFormat.BuiltIn => XmlDocumentationCorpus.Discover(),
            SourceFormat.CirrusSearch => new CirrusSearchDumpReader(location, new CirrusSearchOptions { Lines = settings.Lines, Http = settings.Http }, http),
            SourceFormat.Jsonl => new JsonlDocumentReader(location, new JsonlOptions { TextField = settings.TextField, IdField = settings.IdField, Lines = settings.Lines, Http = settings.Http }, http),
            _ => throw new ArgumentOutOfRangeException(nameof(settings), format, "Unknown source format."),
        };
    }

    /// <summary>Guesses the format from the location's name.</summary>
    public static SourceFormat Detect(string location)
    {
        if (string.Equals(location, BuiltInName, StringComparison.OrdinalIgnoreCase))
        {
            return SourceFormat.BuiltIn;
        }
        string name = location.ToLowerInvariant();
        if (name.Contains("cirrussearch", StringComparison.Ordinal) || name.Contains("cirrus", StringComparison.Ordinal))
        {
            return SourceFormat.CirrusSearch;
        }
        string trimmed = name.EndsWith(".gz", StringComparison.Ordinal) ? name[..^3] : name;
        if (trimmed.EndsWith(".jsonl", StringComparison.Ordinal) || trimmed.EndsWith(".ndjson", StringComparison.Ordinal) || trimmed.EndsWith(".json", StringComparison.Ordinal))
        {
            return SourceFormat.Jsonl;
        }
        throw new ArgumentException($"Cannot tell the format of '{location}' from its name; pass --format cirrussearch or --format jsonl.", nameof(location));
    }
}
