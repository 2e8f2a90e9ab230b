using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Columns;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Csv;

/// <summary>Settings for <see cref="CsvDocumentReader"/>.</summary>
public sealed record CsvOptions
{
    /// <summary>The field separator: <c>,</c> for CSV, a tab for TSV.</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>RFC 4180 quoting (CSV); off for TSV, where a quote is an ordinary character.</summary>
    public bool Quoted { get; init; } = true;

    /// <summary>Column names for a file without a header row (its first row is then data); null to read the header.</summary>
    public IReadOnlyList<string>? ColumnNames { get; init; }

    /// <summary>Which columns hold the text, id and labels.</summary>
    public SourceColumns Columns { get; init; } = new();

    /// <summary>Bad-record policy and the record size limit.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>
/// Streams CSV (RFC 4180) or TSV rows as documents, plain or gzip/bzip2/zstd, from disk or over HTTP(S): the text
/// columns joined with a space, the id column (else the line the row starts on) and the label column (split on commas).
/// </summary>
/// <remarks>
/// A row with fewer fields than the columns it needs or more than the header (or --columns) names, invalid UTF-8, or
/// an unterminated quote at the end of the input is skipped and counted with its line and byte offset (or, with <see cref="BadRecordPolicy.Fail"/>, stops the read).
/// </remarks>
public sealed class CsvDocumentReader : ISeekableSource
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly string _location;
    private readonly CsvOptions _options;
    private readonly HttpClient? _http;
    private readonly Lazy<string> _fingerprint;

    public CsvDocumentReader(string location, CsvOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        _location = location;
        _options = options ?? new CsvOptions();
        _http = http;
        Statistics = statistics ?? new SourceStatistics();
        _fingerprint = new Lazy<string>(
            () => $"csv|{InputIdentity.Describe(location)}|sep={(int)_options.Delimiter}|quoted={_options.Quoted}|names={string.Join(',', _options.ColumnNames ?? [])}|{_options.Columns}",
            LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"{(_options.Delimiter == '\t' ? "tsv" : "csv")}:{_location}";

    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>True once reading has found a local, uncompressed file, whose rows a resume can seek to.</summary>
    public bool CanSeek { get; private set; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using OpenedInput input = await OpenedInput.OpenAsync(_location, _http, _options.Http, Statistics, _options.Lines.DecodeThreadCount, cancellationToken).ConfigureAwait(false);
        // Offsets count a skipped byte order mark, so they stay file offsets a resume can seek to.
        var records = new DelimitedRecordReader(SkipBom(input), (byte)_options.Delimiter, _options.Quoted, _options.Lines.MaxLineBytes, firstOffset: HasBom(input) ? 3 : 0);
        await foreach (Document document in ReadRecordsAsync(input, records, _options.ColumnNames, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    /// <summary>The version label of a URL being read (its ETag or Last-Modified), known once reading has begun.</summary>
    public string? SeekValidator { get; private set; }

    /// <summary>Reads from the row that starts at <paramref name="offset"/>, taking the column names from the header (or --columns) first.</summary>
    public async IAsyncEnumerable<Document> ReadFromAsync(long offset, long line, string? validator, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string>? names = _options.ColumnNames ?? await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (names is null)
        {
            yield break;
        }
        using OpenedInput input = await OpenedInput.OpenAtAsync(_location, offset, validator, _http, _options.Http, Statistics, cancellationToken).ConfigureAwait(false);
        var records = new DelimitedRecordReader(input.Content, (byte)_options.Delimiter, _options.Quoted, _options.Lines.MaxLineBytes, offset, line);
        await foreach (Document document in ReadRecordsAsync(input, records, names, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    /// <param name="input">The opened input.</param>
    /// <param name="records">Its records, from where reading starts.</param>
    /// <param name="names">The column names, or null when the first record is the header.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    private async IAsyncEnumerable<Document> ReadRecordsAsync(OpenedInput input, DelimitedRecordReader records, IReadOnlyList<string>? names, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _ = Fingerprint;
        bool seekable = CanSeek = input.IsSeekable;
        SeekValidator = input.Validator;
        var bad = new BadRecordTracker(_location, _options.Delimiter == '\t' ? "TSV" : "CSV", _options.Lines, Statistics);
        ColumnBinding? binding = null;
        if (names is not null)
        {
            binding = ColumnBinding.Resolve(_options.Columns, names, _location, _options.ColumnNames is null ? "the header row (line 1)" : "--columns");
        }
        var values = new string?[Math.Max(names?.Count ?? 0, 1)];
        while (true)
        {
            bool more;
            try
            {
                more = await records.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw input.DescribeFailure(ex, records.RecordLine);
            }
            if (!more)
            {
                break;
            }
            Statistics.AddRecord(records.RecordBytes);
            Statistics.SetRawProgress(input.RawBytesRead, input.RawLength);
            if (binding is null)
            {
                names = Header(records);
                binding = ColumnBinding.Resolve(_options.Columns, names, _location, "the header row (line 1)",
                    "If the file has no header row, name its columns with --columns NAME,NAME,...");
                values = new string?[names.Count];
                continue;
            }
            if (records.Unterminated)
            {
                bad.Bad("unterminated_quote", records.RecordLine, records.RecordOffset, "a quoted field is still open at the end of the input (a missing closing quote)");
                continue;
            }
            if (records.Oversized)
            {
                bad.Bad("oversized", records.RecordLine, records.RecordOffset, $"a record of {records.RecordBytes} bytes exceeds the {_options.Lines.MaxLineBytes}-byte limit");
                continue;
            }
            if (records.FieldCount <= binding.MaxIndex)
            {
                bad.Bad("missing_fields", records.RecordLine, records.RecordOffset, $"the row has {records.FieldCount} field{(records.FieldCount == 1 ? string.Empty : "s")}; column '{names![binding.MaxIndex]}' is field {binding.MaxIndex + 1}");
                continue;
            }
            if (records.FieldCount > names!.Count && HasValueBeyond(records, names.Count))
            {
                // The row does not fit the columns: binding its first fields would silently drop the rest. (Empty
                // fields past the last column are a trailing separator, which some exporters write on every row.)
                bad.Bad("extra_fields", records.RecordLine, records.RecordOffset, $"the row has {records.FieldCount} fields; {(_options.ColumnNames is null ? "the header" : "--columns")} names {names.Count}");
                continue;
            }
            if (!TryDecode(records, binding, values, out int badField))
            {
                bad.Bad("invalid_utf8", records.RecordLine, records.RecordOffset, $"field {badField + 1} ('{names![badField]}') is not valid UTF-8");
                continue;
            }
            bad.Good();
            // Without an id column a row is named by its line, which stays the same when a resume seeks to it.
            string id = binding.IdColumn >= 0 && values[binding.IdColumn] is { Length: > 0 } given ? given : records.RecordLine.ToString(CultureInfo.InvariantCulture);
            string text = binding.JoinText(i => values[i]);
            if (string.IsNullOrWhiteSpace(text) && !_options.Lines.KeepEmptyText)
            {
                Statistics.AddSkip("empty_text", $"{_location}: line {records.RecordLine}: row {id} has empty text");
                continue;
            }
            Statistics.AddYielded();
            yield return new Document(id, text)
            {
                Labels = binding.LabelColumn >= 0 ? ColumnBinding.SplitLabels(values[binding.LabelColumn]) : null,
                Metadata = binding.KeptValues(i => values[i]),
                SourceOffset = seekable ? records.RecordOffset : -1,
                SourceLine = records.RecordLine,
            };
        }
    }

    private static bool HasBom(OpenedInput input) => input.Head.Span.StartsWith("\uFEFF"u8);

    private static bool HasValueBeyond(DelimitedRecordReader records, int columns)
    {
        for (int i = columns; i < records.FieldCount; i++)
        {
            if (!records.Field(i).IsEmpty)
            {
                return true;
            }
        }
        return false;
    }

    private static Stream SkipBom(OpenedInput input) => HasBom(input) ? new SkippingStream(input.Content, 3) : input.Content;

    /// <summary>The header row's column names, read on their own (the input is closed before the data is read); null for an empty file.</summary>
    private async Task<string[]?> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        using OpenedInput head = await OpenedInput.OpenAsync(_location, _http, _options.Http, null, cancellationToken: cancellationToken).ConfigureAwait(false);
        var header = new DelimitedRecordReader(SkipBom(head), (byte)_options.Delimiter, _options.Quoted, _options.Lines.MaxLineBytes);
        return await header.ReadAsync(cancellationToken).ConfigureAwait(false) ? Header(header) : null;
    }

    private string[] Header(DelimitedRecordReader records)
    {
        var names = new string[records.FieldCount];
        for (int i = 0; i < names.Length; i++)
        {
            if (!Utf8.IsValid(records.Field(i)))
            {
                throw new SourceFormatException(_location, "the header row (line 1)", $"column {i + 1}'s name is not valid UTF-8");
            }
            names[i] = Encoding.UTF8.GetString(records.Field(i)).Trim();
        }
        return names;
    }

    private static bool TryDecode(DelimitedRecordReader records, ColumnBinding binding, string?[] values, out int badField)
    {
        Array.Clear(values);
        badField = -1;
        foreach (int column in binding.Used)
        {
            ReadOnlySpan<byte> field = records.Field(column);
            try
            {
                values[column] = s_strictUtf8.GetString(field);
            }
            catch (DecoderFallbackException)
            {
                badField = column;
                return false;
            }
        }
        return true;
    }
}
