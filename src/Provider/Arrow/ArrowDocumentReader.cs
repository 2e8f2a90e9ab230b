using System.Globalization;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Columns;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Arrow;

/// <summary>Settings for <see cref="ArrowDocumentReader"/>.</summary>
public sealed record ArrowOptions
{
    /// <summary>Which columns hold the text, id and labels.</summary>
    public SourceColumns Columns { get; init; } = new();

    /// <summary>Class names by column, for integer label columns (Hugging Face <c>ClassLabel</c>): id i is names[i].</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> LabelNames { get; init; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>Bad-record policy.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>
/// Streams the rows of an Arrow IPC file or stream (a Hugging Face <c>data-0000N-of-0000M.arrow</c> or cache file),
/// record batch by record batch, forward only, so it reads from disk or over HTTP(S) while downloading.
/// </summary>
/// <remarks>
/// The file format is read through its footer from disk, and through the stream it embeds (after the 8-byte
/// <c>ARROW1</c> preamble) over HTTP, where that stream carries its schema. Text columns may be <c>utf8</c>, <c>large_utf8</c> or <c>utf8_view</c>; label columns strings,
/// integers (mapped through <see cref="ArrowOptions.LabelNames"/>), or <c>list</c>/<c>large_list</c> of either.
/// </remarks>
public sealed class ArrowDocumentReader : IDocumentSource
{
    private readonly string _location;
    private readonly ArrowOptions _options;
    private readonly HttpClient? _http;
    private readonly Lazy<string> _fingerprint;

    public ArrowDocumentReader(string location, ArrowOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        _location = location;
        _options = options ?? new ArrowOptions();
        _http = http;
        Statistics = statistics ?? new SourceStatistics();
        _fingerprint = new Lazy<string>(() => $"arrow|{InputIdentity.Describe(location)}|{_options.Columns}", LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"arrow:{_location}";

    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using OpenedInput input = await OpenedInput.OpenAsync(_location, _http, _options.Http, Statistics, cancellationToken: cancellationToken).ConfigureAwait(false);
        _ = Fingerprint;
        ArrowStreamReader reader;
        FileStream? file = null;
        if (input.Head.Span.StartsWith("ARROW1"u8) && input.Compression == CompressionKind.None && File.Exists(_location))
        {
            // The file format from disk: read through its footer, since some writers (npm apache-arrow) put the
            // schema only there.
            file = new FileStream(_location, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            reader = new ArrowFileReader(file, leaveOpen: false);
        }
        else
        {
            // A stream, or the file format arriving over HTTP: the stream it embeds after the 8-byte preamble.
            reader = new ArrowStreamReader(input.Head.Span.StartsWith("ARROW1"u8) ? new SkippingStream(input.Content, 8) : input.Content, leaveOpen: true);
        }
        using ArrowStreamReader owned = reader;
        using FileStream? ownedFile = file;
        ColumnBinding? binding = null;
        Func<int, string?>[] text = [];
        long row = 0;
        long batchNumber = 0;
        long counted = 0;
        while (true)
        {
            RecordBatch? batch;
            try
            {
                batch = await reader.ReadNextRecordBatchAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new SourceFormatException(_location, $"record batch {batchNumber + 1}, byte offset {input.RawBytesRead}",
                    $"the Arrow IPC data is truncated or malformed ({ex.Message})", ex);
            }
            if (batch is null)
            {
                break;
            }
            using (batch)
            {
                batchNumber++;
                Statistics.AddRecord(input.ContentBytesRead - counted);
                counted = input.ContentBytesRead;
                if (binding is null)
                {
                    var names = batch.Schema.FieldsList.Select(f => f.Name).ToList();
                    binding = ColumnBinding.Resolve(_options.Columns, names, _location, "the Arrow schema");
                    foreach (int column in binding.TextColumns)
                    {
                        CheckText(batch.Schema.GetFieldByIndex(column));
                    }
                    foreach (int column in binding.KeepColumns.Append(binding.IdColumn).Append(binding.LabelColumn))
                    {
                        if (column >= 0)
                        {
                            CheckScalar(batch.Schema.GetFieldByIndex(column), allowList: column == binding.LabelColumn);
                        }
                    }
                }
                IArrowArray[] columns = batch.Arrays.ToArray();
                foreach (int column in binding.TextColumns.Concat(binding.KeepColumns).Append(binding.IdColumn).Append(binding.LabelColumn).Where(c => c >= 0))
                {
                    // Before any value is read: Apache.Arrow reads through offsets without bounds checks.
                    if (column >= columns.Length || columns[column].Length < batch.Length)
                    {
                        throw new SourceFormatException(_location, $"record batch {batchNumber}, byte offset {input.RawBytesRead}",
                            $"column '{binding.Names[column]}' has {(column >= columns.Length ? "no array" : $"{columns[column].Length} rows")} in a record batch of {batch.Length} rows");
                    }
                    if (ArrowArrayCheck.Problem(columns[column].Data) is { } problem)
                    {
                        throw new SourceFormatException(_location, $"record batch {batchNumber}, byte offset {input.RawBytesRead}", $"column '{binding.Names[column]}' is malformed: {problem}");
                    }
                }
                string? labelColumn = binding.LabelColumn >= 0 ? binding.Names[binding.LabelColumn] : null;
                IReadOnlyList<string>? classNames = labelColumn is not null && _options.LabelNames.TryGetValue(labelColumn, out IReadOnlyList<string>? n) ? n : null;
                for (int i = 0; i < batch.Length; i++, row++)
                {
                    if (i > 0)
                    {
                        Statistics.AddRecord();
                    }
                    string id = binding.IdColumn >= 0 && ValueAt(columns[binding.IdColumn], i) is { Length: > 0 } given ? given : row.ToString(CultureInfo.InvariantCulture);
                    int index = i;
                    string value = binding.JoinText(c => ValueAt(columns[c], index));
                    if (string.IsNullOrWhiteSpace(value) && !_options.Lines.KeepEmptyText)
                    {
                        Statistics.AddSkip("empty_text", $"{_location}: row {row} (record batch {batchNumber}) has empty text");
                        continue;
                    }
                    IReadOnlyList<string>? labels = binding.LabelColumn >= 0 ? LabelsAt(columns[binding.LabelColumn], i, classNames) : null;
                    Statistics.AddYielded();
                    yield return new Document(id, value) { Labels = labels, Metadata = binding.KeptValues(c => ValueAt(columns[c], index)) };
                }
                Statistics.SetRawProgress(file?.Position ?? input.RawBytesRead, input.RawLength);
            }
        }
    }

    /// <summary>The type of a column's values: a dictionary-encoded column's are its dictionary's.</summary>
    private static Apache.Arrow.Types.IArrowType ValueType(Field field) =>
        field.DataType is Apache.Arrow.Types.DictionaryType dictionary ? dictionary.ValueType : field.DataType;

    private void CheckText(Field field)
    {
        if (ValueType(field) is not (Apache.Arrow.Types.StringType or Apache.Arrow.Types.LargeStringType or Apache.Arrow.Types.StringViewType))
        {
            throw new SourceFormatException(_location, "the Arrow schema", $"column '{field.Name}' is {ValueType(field).Name}, not a string column (utf8, large_utf8 or utf8_view, dictionary-encoded or not), so it cannot be the text.");
        }
    }

    private void CheckScalar(Field field, bool allowList)
    {
        Apache.Arrow.Types.IArrowType type = ValueType(field);
        if (allowList && type is Apache.Arrow.Types.ListType or Apache.Arrow.Types.LargeListType)
        {
            type = type is Apache.Arrow.Types.ListType list ? list.ValueDataType : ((Apache.Arrow.Types.LargeListType)type).ValueDataType;
            type = type is Apache.Arrow.Types.DictionaryType items ? items.ValueType : type;
        }
        if (type is not (Apache.Arrow.Types.StringType or Apache.Arrow.Types.LargeStringType or Apache.Arrow.Types.StringViewType or Apache.Arrow.Types.BooleanType
            or Apache.Arrow.Types.Int8Type or Apache.Arrow.Types.Int16Type or Apache.Arrow.Types.Int32Type or Apache.Arrow.Types.Int64Type
            or Apache.Arrow.Types.UInt8Type or Apache.Arrow.Types.UInt16Type or Apache.Arrow.Types.UInt32Type or Apache.Arrow.Types.UInt64Type
            or Apache.Arrow.Types.FloatType or Apache.Arrow.Types.DoubleType))
        {
            throw new SourceFormatException(_location, "the Arrow schema", $"column '{field.Name}' is {field.DataType.Name}; an id, label or kept column must hold strings, integers, floats or booleans{(allowList ? " (or a list of them)" : string.Empty)}.");
        }
    }

    /// <summary>One cell as text: strings as they are, numbers and booleans formatted invariantly; null when null.</summary>
    internal static string? ValueAt(IArrowArray array, int i)
    {
        if (array.IsNull(i))
        {
            return null;
        }
        return array switch
        {
            StringArray a => a.GetString(i),
            LargeStringArray a => a.GetString(i),
            StringViewArray a => a.GetString(i),
            Int64Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            Int32Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            Int16Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            Int8Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            UInt64Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            UInt32Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            UInt16Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            UInt8Array a => a.GetValue(i)!.Value.ToString(CultureInfo.InvariantCulture),
            DoubleArray a => a.GetValue(i)!.Value.ToString("R", CultureInfo.InvariantCulture),
            FloatArray a => a.GetValue(i)!.Value.ToString("R", CultureInfo.InvariantCulture),
            BooleanArray a => a.GetValue(i)!.Value ? "true" : "false",
            DictionaryArray a => ValueAt(a.Dictionary, DictionaryIndex(a.Indices, i)),
            _ => throw new NotSupportedException($"Arrow {array.Data.DataType.Name} columns cannot be read as text."),
        };
    }

    /// <summary>Row <paramref name="i"/>'s index into a dictionary-encoded column's dictionary.</summary>
    private static int DictionaryIndex(IArrowArray indices, int i) => indices switch
    {
        Int32Array a => a.GetValue(i)!.Value,
        Int8Array a => a.GetValue(i)!.Value,
        Int16Array a => a.GetValue(i)!.Value,
        Int64Array a => checked((int)a.GetValue(i)!.Value),
        UInt8Array a => a.GetValue(i)!.Value,
        UInt16Array a => a.GetValue(i)!.Value,
        UInt32Array a => checked((int)a.GetValue(i)!.Value),
        UInt64Array a => checked((int)a.GetValue(i)!.Value),
        _ => throw new NotSupportedException($"Arrow dictionary indices of type {indices.Data.DataType.Name} are not integers."),
    };

    private static List<string>? LabelsAt(IArrowArray array, int i, IReadOnlyList<string>? classNames)
    {
        if (array.IsNull(i))
        {
            return null;
        }
        IArrowArray? items = array switch
        {
            ListArray list => list.GetSlicedValues(i),
            LargeListArray list => list.GetSlicedValues(i),
            _ => null,
        };
        if (items is null)
        {
            return [Name(ValueAt(array, i)!, classNames)];
        }
        var labels = new List<string>(items.Length);
        for (int k = 0; k < items.Length; k++)
        {
            if (ValueAt(items, k) is { } value)
            {
                labels.Add(Name(value, classNames));
            }
        }
        return labels;
    }

    private static string Name(string value, IReadOnlyList<string>? classNames) =>
        classNames is not null && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) && id >= 0 && id < classNames.Count
            ? classNames[id]
            : value;
}
