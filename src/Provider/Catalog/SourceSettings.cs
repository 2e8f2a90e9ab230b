using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Catalog;

/// <summary>Which columns (or JSON fields) of a tabular or record source hold the text, the id and the labels.</summary>
public sealed record SourceColumns
{
    /// <summary>Columns joined with a space to make the text, in order.</summary>
    public IReadOnlyList<string> Text { get; init; } = ["text"];

    /// <summary>The id column; a record without one is named by its position.</summary>
    public string Id { get; init; } = "id";

    /// <summary>The label column, or null for none. Optional unless given explicitly (<see cref="LabelRequired"/>).</summary>
    public string? Label { get; init; } = "label";

    /// <summary>True when the text columns were given explicitly (a missing one is then an error listing the columns that exist).</summary>
    public bool TextGiven { get; init; }

    /// <summary>True when the label column was given explicitly, so a source without it is an error rather than unlabelled.</summary>
    public bool LabelRequired { get; init; }

    /// <summary>
    /// Columns (fields) copied as they are into each document's <see cref="Core.Documents.Document.Metadata"/>, by the
    /// name given: inference writes them beside its predictions (<c>--keep-columns</c>). A tabular file without one is
    /// an error listing the columns it has; a JSON record without one keeps no value for it.
    /// </summary>
    public IReadOnlyList<string> Keep { get; init; } = [];

    /// <summary>A short form for fingerprints: <c>text=a+b|id=c|label=d</c>.</summary>
    public override string ToString() => $"text={string.Join('+', Text)}|id={Id}|label={Label ?? "-"}";
}

/// <summary>How to read a source: its format (or auto), columns, format options, bad-record policy and HTTP settings.</summary>
public sealed record SourceSettings
{
    /// <summary>A format's name or alias, or <c>auto</c> to tell it from the content.</summary>
    public string Format { get; init; } = "auto";

    /// <summary>Which columns hold the text, id and labels.</summary>
    public SourceColumns Columns { get; init; } = new();

    /// <summary>Format-specific options by name (see <see cref="ISourceFormat.Options"/>); a format ignores others'.</summary>
    public IReadOnlyDictionary<string, string> FormatOptions { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Bad-record policy and line limits.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings.</summary>
    public HttpReadOptions Http { get; init; } = new();

    /// <summary>A format option's value, or its default.</summary>
    public string? Option(SourceOptionInfo option) => FormatOptions.TryGetValue(option.Name, out string? value) ? value : option.Default;

    /// <summary>The options a format declares, with their values, for fingerprints: <c>split=train,ns=0</c>.</summary>
    public string DescribeOptions(ISourceFormat format) =>
        string.Join(',', format.Options.Select(o => $"{o.Name}={Option(o) ?? "-"}"));
}
