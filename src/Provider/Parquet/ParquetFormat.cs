using System.Globalization;
using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Schema;
using StreamLoader.Common.Parquet;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Columns;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Provider.Parquet;

/// <summary>Apache Parquet (<c>PAR1</c>), what the Hugging Face Hub serves most datasets as; read row group by row group.</summary>
public sealed class ParquetFormat : ISourceFormat
{
    public string Name => "parquet";

    public IReadOnlyList<string> Aliases => [];

    public string Summary => "Apache Parquet file (local; read row group by row group)";

    public IReadOnlyList<SourceOptionInfo> Options => [];

    public SniffResult Sniff(SourceProbe probe) =>
        !probe.IsDirectory && probe.Head.Span.StartsWith("PAR1"u8) ? SniffResult.Certain : SniffResult.No;

    public IDocumentSource Open(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics = null) =>
        new ParquetDocumentReader(location, settings.Columns, statistics, settings.Lines);
}

/// <summary>
/// Streams the rows of a local Parquet file as documents, one row group at a time (memory is bounded by the largest
/// row group's text columns, not the file). Row groups are the file's parts (<see cref="IPartitionedSource"/>): ranks
/// split a file of several row groups by row group, and a resume passes over finished ones without decoding them.
/// Text, id and label columns must be flat (not nested lists).
/// </summary>
/// <remarks>Parquet keeps its index in a footer at the end of the file, so it is read from disk, not while downloading.</remarks>
public sealed class ParquetDocumentReader : IPartitionedSource
{
    private readonly Lazy<long[]> _rowGroups;
    private readonly string _location;
    private readonly SourceColumns _columns;
    private readonly LineReaderOptions _lines;
    private readonly Lazy<string> _fingerprint;

    public ParquetDocumentReader(string location, SourceColumns? columns = null, SourceStatistics? statistics = null, LineReaderOptions? lines = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        if (InputIdentity.TryParseHttpUrl(location, out _))
        {
            throw new SourceFormatException(location, "the URL", "Parquet keeps its index at the end of the file, so it is read from disk: download it first (or convert it to Arrow or JSON Lines, which stream).");
        }
        _location = location;
        _columns = columns ?? new SourceColumns();
        _lines = lines ?? new LineReaderOptions();
        Statistics = statistics ?? new SourceStatistics();
        _fingerprint = new Lazy<string>(() => $"parquet|{InputIdentity.Describe(location)}|{_columns}", LazyThreadSafetyMode.PublicationOnly);
        _rowGroups = new Lazy<long[]>(ReadRowGroups, LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"parquet:{_location}";

    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>The file's row groups: each can be read on its own, so ranks split a big file by row group and a resume passes over finished ones.</summary>
    public int PartitionCount => _rowGroups.Value.Length;

    public string DescribePartition(int index) => $"{_location} row group {index}";

    /// <summary>Row groups decoded at once (each opens the file for itself), ahead of their turn.</summary>
    public int PartsAtOnce => _lines.PartsAtOnceCount;

    /// <summary>A row group is decoded whole into memory: a stream takes row groups one at a time, never in turns.</summary>
    public bool Interleaves => false;

    public IAsyncEnumerable<Document> ReadAsync(CancellationToken cancellationToken = default) => PartReader.ReadAllAsync(this, cancellationToken);

    public async IAsyncEnumerable<Document> ReadPartitionAsync(int index, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        _ = Fingerprint;
        long fileLength = new FileInfo(_location).Length;
        long[] rowGroups = _rowGroups.Value;
        long row = 0;
        for (int g = 0; g < index; g++)
        {
            row += rowGroups[g];
        }
        ParquetReader reader = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            (DataField?[] fields, ColumnBinding binding, ParquetRowGroupReader rowGroup, int count) = Bind(reader, index, fileLength);
            using ParquetRowGroupReader ownedGroup = rowGroup;
            int group = index;
            var columns = new Dictionary<int, string?[]>();
            try
            {
                // Decoded on a task of its own, with a deadline: a damaged page can send Parquet.Net into a loop that
                // never ends and never looks at the token, and a run must fail naming the file instead of hanging.
                long groupBytes = fileLength / Math.Max(1, rowGroups.Length);
                TimeSpan deadline = DecodeDeadline + TimeSpan.FromSeconds(groupBytes / (1 << 20));
                foreach (int column in binding.Used)
                {
                    DataField field = fields[column]!;
                    Task<string?[]> decoding = Task.Run(() => ReadColumnAsync(rowGroup, field, count, cancellationToken), cancellationToken);
                    try
                    {
                        columns[column] = await decoding.WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        _ = decoding.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                        throw new SourceFormatException(_location, $"row group {group}", $"column '{field.Name}' did not decode within {deadline.TotalSeconds:0} s; its pages are damaged (the Parquet reader loops on them)");
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not SourceFormatException)
            {
                throw new SourceFormatException(_location, $"row group {group}", $"the column data cannot be read ({ex.Message})", ex);
            }
            long groupStart = fileLength * group / rowGroups.Length;
            long groupEnd = fileLength * (group + 1) / rowGroups.Length;
            // The group's own counters, so row groups decoded at once keep the examples of the first in file order.
            var counts = new SourceStatistics(Statistics, order: group);
            for (int i = 0; i < count; i++, row++)
            {
                // Parquet has no decompressed stream to count: the group's share of the file stands for its bytes.
                counts.AddRecord(i == 0 ? groupEnd - groupStart : 0);
                int cell = i;
                string id = binding.IdColumn >= 0 && columns[binding.IdColumn][i] is { Length: > 0 } given ? given : row.ToString(CultureInfo.InvariantCulture);
                string text = binding.JoinText(c => columns[c][cell]);
                if (string.IsNullOrWhiteSpace(text) && !_lines.KeepEmptyText)
                {
                    counts.AddSkip("empty_text", $"{_location}: row {row} (row group {group}) has empty text");
                    continue;
                }
                counts.AddYielded();
                yield return new Document(id, text)
                {
                    Labels = binding.LabelColumn >= 0 ? ColumnBinding.SplitLabels(columns[binding.LabelColumn][i]) : null,
                    Metadata = binding.KeptValues(c => columns[c][cell]),
                };
            }
            Statistics.SetRawProgress(groupEnd, fileLength);
        }
    }

    /// <summary>
    /// Binds the columns by the file's schema and opens row group <paramref name="group"/>. A damaged footer can decode
    /// into a schema or row group the library fails on only when asked for it: that is a message naming the file too.
    /// </summary>
    private (DataField?[] Fields, ColumnBinding Binding, ParquetRowGroupReader RowGroup, int Count) Bind(ParquetReader reader, int group, long fileLength)
    {
        try
        {
            // Bind by the top-level columns; a list column's values sit in its leaf data field.
            DataField?[] fields = reader.Schema.Fields.Select(f => f switch
            {
                DataField data => data,
                ListField { Item: DataField item } => item,
                _ => null,
            }).ToArray();
            var names = reader.Schema.Fields.Select(f => f.Name).ToList();
            ColumnBinding binding = ColumnBinding.Resolve(_columns, names, _location, "the Parquet schema");
            foreach (int column in binding.Used)
            {
                if (fields[column] is null || fields[column]!.MaxRepetitionLevel > 0)
                {
                    throw new SourceFormatException(_location, "the Parquet schema", $"column '{names[column]}' is a list or a struct; text, id, label and kept columns must be flat here (lists of labels are not read from Parquet yet).");
                }
            }
            ParquetRowGroupReader rowGroup = reader.OpenRowGroupReader(group);
            try
            {
                CheckDeclaredSizes(rowGroup, group, fileLength, binding.Used.Select(c => fields[c]!));
            }
            catch
            {
                rowGroup.Dispose();
                throw;
            }
            return (fields, binding, rowGroup, (int)rowGroup.RowCount);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SourceFormatException)
        {
            throw new SourceFormatException(_location, "the footer", $"the schema or row group {group} cannot be read ({ex.Message})", ex);
        }
    }

    /// <summary>
    /// Rows a row group may declare beyond <see cref="RowsAlwaysAllowed"/> per byte of its column data: real data,
    /// however repetitive, takes more than a bit per row once its text column is counted; a footer claiming more is
    /// damaged or a bomb, and its count would size the row group's arrays.
    /// </summary>
    internal const long RowsPerByte = 64;

    /// <summary>Rows any row group may declare whatever its size (pyarrow writes groups of up to 1,048,576 rows).</summary>
    internal const long RowsAlwaysAllowed = 1 << 21;

    /// <summary>
    /// Checks the numbers the footer declares for a row group against the file before anything is sized by them: its
    /// row count against its column data's bytes (<see cref="RowsPerByte"/>), and each column it reads lying inside
    /// the file. A refusal names the file, the row group and the numbers.
    /// </summary>
    private void CheckDeclaredSizes(ParquetRowGroupReader rowGroup, int group, long fileLength, IEnumerable<DataField> used)
    {
        long rows = rowGroup.RowCount;
        long bytes = 0;
        foreach (global::Parquet.Meta.ColumnChunk chunk in rowGroup.RowGroup.Columns)
        {
            bytes += Math.Clamp(chunk.MetaData?.TotalCompressedSize ?? 0, 0, fileLength);
        }
        bytes = Math.Min(bytes, fileLength);
        long allowed = RowsAlwaysAllowed + (RowsPerByte * bytes);
        if (rows < 0 || rows > int.MaxValue || rows > allowed)
        {
            throw new SourceFormatException(_location, $"row group {group}", $"its footer declares {rows:N0} rows in {bytes:N0} bytes of column data, more than text takes (at most {allowed:N0}: {RowsAlwaysAllowed:N0} plus {RowsPerByte} a byte); the footer is damaged, or the file is a bomb");
        }
        foreach (DataField field in used)
        {
            List<string> fieldPath = field.Path.ToList();
            global::Parquet.Meta.ColumnMetaData? meta = rowGroup.RowGroup.Columns.FirstOrDefault(c => c.MetaData?.PathInSchema is { } path && path.SequenceEqual(fieldPath))?.MetaData;
            if (meta is null)
            {
                continue; // the library says so when the column is read
            }
            long start = meta.DictionaryPageOffset is long dictionary and > 0 ? Math.Min(dictionary, meta.DataPageOffset) : meta.DataPageOffset;
            if (start < 0 || meta.TotalCompressedSize < 0 || start > fileLength || meta.TotalCompressedSize > fileLength - start || meta.NumValues < 0)
            {
                throw new SourceFormatException(_location, $"row group {group}", $"column '{field.Name}' is declared at bytes {start:N0}+{meta.TotalCompressedSize:N0} with {meta.NumValues:N0} values, outside the file's {fileLength:N0} bytes; the footer is damaged");
            }
        }
    }

    /// <summary>
    /// How long the footer, or a row group's column (plus a second per MiB of the group), may take to decode: far
    /// beyond any sound file, so reaching it means damaged data (tests shorten it).
    /// </summary>
    internal static TimeSpan DecodeDeadline { get; set; } = TimeSpan.FromSeconds(60);

    private async Task<ParquetReader> OpenAsync(CancellationToken cancellationToken)
    {
        // Its footer is decoded on a task of its own, with a deadline: a damaged footer can loop the Thrift decoder.
        Task<ParquetReader> opening = Task.Run(() => ParquetReader.CreateAsync(_location, null, cancellationToken), cancellationToken);
        try
        {
            return await opening.WaitAsync(DecodeDeadline, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            _ = opening.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new SourceFormatException(_location, "the footer", $"it did not decode within {DecodeDeadline.TotalSeconds:0} s; the footer is damaged (the Parquet reader loops on it)", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not FileNotFoundException)
        {
            throw new SourceFormatException(_location, "the footer", $"not a readable Parquet file ({ex.Message})", ex);
        }
    }

    // Row counts per row group, from the footer (read once).
    private long[] ReadRowGroups()
    {
        ParquetReader reader = OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        try
        {
            var counts = new long[reader.RowGroupCount];
            for (int g = 0; g < counts.Length; g++)
            {
                using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
                counts[g] = group.RowCount;
            }
            return counts;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SourceFormatException)
        {
            throw new SourceFormatException(_location, "the footer", $"its row groups cannot be read ({ex.Message})", ex);
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private async Task<string?[]> ReadColumnAsync(ParquetRowGroupReader rowGroup, DataField field, int count, CancellationToken cancellationToken)
    {
        Type type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            string?[] strings = new string?[count];
            await rowGroup.ReadAsync(field, strings.AsMemory()!, null, cancellationToken).ConfigureAwait(false);
            return strings;
        }
        return type switch
        {
            _ when type == typeof(long) => await ReadNumbersAsync<long>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(int) => await ReadNumbersAsync<int>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(short) => await ReadNumbersAsync<short>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(bool) => await ReadNumbersAsync<bool>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(double) => await ReadNumbersAsync<double>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(float) => await ReadNumbersAsync<float>(rowGroup, field, count, cancellationToken).ConfigureAwait(false),
            _ => throw new SourceFormatException(_location, "the Parquet schema", $"column '{field.Name}' is {type.Name}, which cannot be read as text."),
        };
    }

    private static async Task<string?[]> ReadNumbersAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int count, CancellationToken cancellationToken)
        where T : struct
    {
        T?[] values = await ParquetColumns.ReadAsync<T>(rowGroup, field, count, cancellationToken).ConfigureAwait(false);
        return values.Select(v => v is T x ? Convert.ToString(x, CultureInfo.InvariantCulture) : null).ToArray();
    }
}
