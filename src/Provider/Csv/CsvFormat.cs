using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Csv;

/// <summary>Delimited text: CSV (RFC 4180 quoting) or TSV (no quoting), with a header row or <c>--columns</c>.</summary>
public sealed class CsvFormat : ISourceFormat
{
    private static readonly SourceOptionInfo s_columns = new("columns", "name,name,...", "CSV/TSV: names of the columns of a file without a header row (its first row is then data), e.g. text,labels,id for GoEmotions.");
    private static readonly SourceOptionInfo s_delimiter = new("delimiter", "char", "CSV/TSV: field separator (default , for csv and tab for tsv; 'tab' for a tab).");
    private static readonly SourceOptionInfo s_quoting = new("quoting", "rfc4180|none", "CSV/TSV: 'rfc4180' reads quoted fields with separators, line breaks and doubled quotes; 'none' treats quotes as text (default: rfc4180 for csv, none for tsv).");

    private readonly char _delimiter;

    private CsvFormat(string name, char delimiter, string summary)
    {
        Name = name;
        _delimiter = delimiter;
        Summary = summary;
    }

    /// <summary>Comma-separated values with RFC 4180 quoting.</summary>
    public static CsvFormat Csv { get; } = new("csv", ',', "CSV (RFC 4180), header row or --columns");

    /// <summary>Tab-separated values, quotes as text.</summary>
    public static CsvFormat Tsv { get; } = new("tsv", '\t', "TSV, header row or --columns (GoEmotions)");

    public string Name { get; }

    public IReadOnlyList<string> Aliases => [];

    public string Summary { get; }

    public IReadOnlyList<SourceOptionInfo> Options => [s_columns, s_delimiter, s_quoting];

    public SniffResult Sniff(SourceProbe probe)
    {
        if (probe.IsDirectory)
        {
            return SniffResult.No;
        }
        bool named = probe.NameHint.EndsWith("." + Name, StringComparison.Ordinal) || (_delimiter == '\t' && probe.NameHint.EndsWith(".tab", StringComparison.Ordinal));
        ReadOnlySpan<byte> line = probe.FirstLine;
        ReadOnlySpan<byte> trimmed = line.TrimStart(" \t"u8);
        bool looksStructured = !trimmed.IsEmpty && trimmed[0] is (byte)'{' or (byte)'[' or (byte)'<';
        if (!looksStructured && probe.HeadIsUtf8 && line.IndexOf((byte)_delimiter) >= 0)
        {
            // A tab in the first line is TSV's mark; a comma only counts for CSV when the line has no tab.
            return _delimiter == ',' && line.IndexOf((byte)'\t') >= 0 && !named ? SniffResult.Possible : SniffResult.Likely;
        }
        return named && !looksStructured ? SniffResult.Possible : SniffResult.No;
    }

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null)
    {
        char delimiter = settings.Option(s_delimiter) switch
        {
            null => _delimiter,
            "tab" or "\\t" or "\t" => '\t',
            { Length: 1 } one => one[0],
            string other => throw new ArgumentException($"--delimiter {other}: expected one character, or 'tab'."),
        };
        bool quoted = settings.Option(s_quoting) switch
        {
            null => _delimiter == ',',
            "rfc4180" or "csv" => true,
            "none" => false,
            string other => throw new ArgumentException($"--quoting {other}: expected rfc4180 or none."),
        };
        string[]? names = settings.Option(s_columns)?.Split(',', StringSplitOptions.TrimEntries);
        return new CsvDocumentReader(location, new CsvOptions
        {
            Delimiter = delimiter,
            Quoted = quoted,
            ColumnNames = names,
            Columns = settings.Columns,
            Lines = settings.Lines,
            Http = settings.Http,
        }, http, statistics);
    }
}
