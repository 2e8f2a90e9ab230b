using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Data;
using Parquet.Schema;
using StreamLoader.Common.Parquet;
using StreamLoader.Core.Inference;

namespace StreamLoader.Results.Formats;

/// <summary>
/// Parquet: one row group per write; <c>labels</c> a list of strings, <c>probabilities</c> a struct of one float
/// field per label. pyarrow, pandas, DuckDB, Spark and Hugging Face <c>datasets</c> read it.
/// </summary>
public sealed class ParquetResultFormat : IResultFormat
{
    public string Name => "parquet";

    public IReadOnlyList<string> Extensions { get; } = [".parquet"];

    public IResultFileWriter Create(string path, ResultSchema schema) => new Writer(path, schema);

    /// <summary>The columns, in file order.</summary>
    private sealed class Columns
    {
        public Columns(ResultSchema schema)
        {
            Id = new DataField<string>("id", false);
            Kept = schema.KeepColumns.Select(c => new DataField<string>(c, true)).ToArray();
            if (schema.MultiLabel)
            {
                LabelItem = new DataField<string>("element", false);
                LabelList = new ListField("labels", LabelItem);
            }
            else
            {
                Label = new DataField<string>("label", true);
            }
            ByLabel = schema.LabelNames.Select(l => new DataField<float>(l, true)).ToArray();
            Probabilities = new StructField("probabilities", ByLabel);
            Status = new DataField<string>("status", false);
            Tokens = new DataField<int>("tokens");
            Source = new DataField<string>("source", false);
            Part = new DataField<int>("source_part");
            Ordinal = new DataField<long>("source_ordinal");
            Line = new DataField<long?>("source_line");
            Offset = new DataField<long?>("source_offset");
            ModelHash = new DataField<string>("model_hash", false);
            TokenizerHash = new DataField<string>("tokenizer_hash", false);
            var fields = new List<Field> { Id };
            fields.AddRange(Kept);
            fields.Add(LabelList is not null ? LabelList : Label!);
            fields.AddRange([Probabilities, Status, Tokens, Source, Part, Ordinal, Line, Offset, ModelHash, TokenizerHash]);
            Schema = new ParquetSchema(fields);
        }

        public ParquetSchema Schema { get; }
        public DataField<string> Id { get; }
        public DataField<string>[] Kept { get; }
        public DataField<string>? Label { get; }
        public ListField? LabelList { get; }
        public DataField<string>? LabelItem { get; }
        public DataField<float>[] ByLabel { get; }
        public StructField Probabilities { get; }
        public DataField<string> Status { get; }
        public DataField<int> Tokens { get; }
        public DataField<string> Source { get; }
        public DataField<int> Part { get; }
        public DataField<long> Ordinal { get; }
        public DataField<long?> Line { get; }
        public DataField<long?> Offset { get; }
        public DataField<string> ModelHash { get; }
        public DataField<string> TokenizerHash { get; }
    }

    public async IAsyncEnumerable<ResultRow> ReadAsync(string path, ResultSchema schema, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using FileStream stream = File.OpenRead(path);
        await using ParquetReader reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        DataField[] fields = reader.Schema.GetDataFields();
        DataField Field(string dotted) => fields.FirstOrDefault(f => string.Join('.', f.Path.ToList()) == dotted || f.Path.ToList()[^1] == dotted && f.Path.ToList().Count == 1)
            ?? throw new InvalidDataException($"{path}: no column '{dotted}'; not an inference output of this schema.");
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
            int count = checked((int)group.RowCount);
            string?[] Strings(DataField field)
            {
                string?[] values = new string?[count];
                group.ReadAsync(field, values.AsMemory()!, null, cancellationToken).AsTask().GetAwaiter().GetResult();
                return values;
            }
            T?[] Numbers<T>(DataField field)
                where T : struct
            {
                return ParquetColumns.ReadAsync<T>(group, field, count, cancellationToken).AsTask().GetAwaiter().GetResult();
            }
            string?[] ids = Strings(Field("id"));
            string?[][] kept = schema.KeepColumns.Select(c => Strings(Field(c))).ToArray();
            string?[]? label = schema.MultiLabel ? null : Strings(Field("label"));
            string[]?[]? labels = null;
            if (schema.MultiLabel)
            {
                DataField item = fields.First(f => f.Path.ToList()[0] == "labels");
                using RawColumnData raw = await group.ReadRawColumnDataBaseAsync(item, cancellationToken).ConfigureAwait(false);
                labels = Lists((RawColumnData<ReadOnlyMemory<char>>)raw, count, item.MaxDefinitionLevel);
            }
            float?[][] probabilities = schema.LabelNames.Select(l => Numbers<float>(fields.First(f => f.Path.ToList() is [ "probabilities", var name ] && name == l))).ToArray();
            string?[] status = Strings(Field("status"));
            int?[] tokens = Numbers<int>(Field("tokens"));
            string?[] source = Strings(Field("source"));
            int?[] part = Numbers<int>(Field("source_part"));
            long?[] ordinal = Numbers<long>(Field("source_ordinal"));
            long?[] line = Numbers<long>(Field("source_line"));
            long?[] offset = Numbers<long>(Field("source_offset"));
            for (int i = 0; i < count; i++)
            {
                float[]? p = probabilities.Length > 0 && probabilities[0][i] is not null ? probabilities.Select(c => c[i] ?? 0f).ToArray() : null;
                yield return new ResultRow
                {
                    Id = ids[i]!,
                    Kept = kept.Select(c => c[i]).ToArray(),
                    Status = status[i]!,
                    Label = label?[i],
                    Labels = labels?[i],
                    Probabilities = p,
                    Tokens = tokens[i] ?? 0,
                    Source = source[i] ?? string.Empty,
                    Position = new SourcePosition(part[i] ?? 0, ordinal[i] ?? 0),
                    Line = line[i],
                    Offset = offset[i],
                };
            }
        }
    }

    /// <summary>Rebuilds each row's list from a list column's values and Dremel levels (rep 0 starts a row).</summary>
    private static string[]?[] Lists(RawColumnData<ReadOnlyMemory<char>> raw, int rows, int maxDefinition)
    {
        var lists = new string[]?[rows];
        ReadOnlySpan<int> definitions = raw.DefinitionLevels;
        ReadOnlySpan<int> repetitions = raw.RepetitionLevels;
        ReadOnlySpan<ReadOnlyMemory<char>> values = raw.Values;
        int row = -1;
        int value = 0;
        List<string>? current = null;
        for (int i = 0; i < definitions.Length; i++)
        {
            if (repetitions[i] == 0)
            {
                if (row >= 0)
                {
                    lists[row] = current?.ToArray();
                }
                row++;
                current = definitions[i] == 0 ? null : [];
            }
            if (definitions[i] == maxDefinition)
            {
                current!.Add(values[value++].ToString());
            }
        }
        if (row >= 0)
        {
            lists[row] = current?.ToArray();
        }
        return lists;
    }

    private sealed class Writer : IResultFileWriter
    {
        private readonly FileStream _file;
        private readonly ResultSchema _schema;
        private readonly Columns _columns;
        private ParquetWriter? _writer;

        public Writer(string path, ResultSchema schema)
        {
            _schema = schema;
            _columns = new Columns(schema);
            _file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        }

        private async ValueTask<ParquetWriter> OpenAsync(CancellationToken cancellationToken) =>
            _writer ??= await ParquetWriter.CreateAsync(_columns.Schema, _file, cancellationToken: cancellationToken).ConfigureAwait(false);

        public async ValueTask WriteAsync(IReadOnlyList<ResultRow> rows, CancellationToken cancellationToken = default)
        {
            if (rows.Count == 0)
            {
                return;
            }
            ParquetWriter writer = await OpenAsync(cancellationToken).ConfigureAwait(false);
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            Columns c = _columns;
            await group.WriteAsync(c.Id, rows.Select(r => r.Id).ToArray()).ConfigureAwait(false);
            for (int k = 0; k < c.Kept.Length; k++)
            {
                int column = k;
                await group.WriteAsync(c.Kept[k], rows.Select(r => r.Kept[column]).ToArray()!).ConfigureAwait(false);
            }
            if (c.LabelItem is not null)
            {
                await WriteListAsync(group, c.LabelItem, rows, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await group.WriteAsync(c.Label!, rows.Select(r => r.Label).ToArray()!).ConfigureAwait(false);
            }
            for (int l = 0; l < c.ByLabel.Length; l++)
            {
                int label = l;
                await group.WriteAsync<float>(c.ByLabel[l], rows.Select(r => r.Probabilities is { } p ? p[label] : (float?)null).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            }
            await group.WriteAsync(c.Status, rows.Select(r => r.Status).ToArray()).ConfigureAwait(false);
            await group.WriteAsync<int>(c.Tokens, rows.Select(r => r.Tokens).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            await group.WriteAsync(c.Source, rows.Select(r => r.Source).ToArray()).ConfigureAwait(false);
            await group.WriteAsync<int>(c.Part, rows.Select(r => r.Position.Part).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            await group.WriteAsync<long>(c.Ordinal, rows.Select(r => r.Position.Ordinal).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            await group.WriteAsync<long>(c.Line, rows.Select(r => r.Line).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            await group.WriteAsync<long>(c.Offset, rows.Select(r => r.Offset).ToArray().AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            await group.WriteAsync(c.ModelHash, rows.Select(_ => _schema.ModelHash).ToArray()).ConfigureAwait(false);
            await group.WriteAsync(c.TokenizerHash, rows.Select(_ => _schema.TokenizerHash).ToArray()).ConfigureAwait(false);
            group.CompleteValidate();
        }

        /// <summary>A list column in Dremel form: a row's items at the full definition level (the first at repetition 0), an empty list at one less, a null list at 0.</summary>
        private static async ValueTask WriteListAsync(ParquetRowGroupWriter group, DataField<string> item, IReadOnlyList<ResultRow> rows, CancellationToken cancellationToken)
        {
            int full = item.MaxDefinitionLevel;
            var values = new List<ReadOnlyMemory<char>>();
            var definitions = new List<int>();
            var repetitions = new List<int>();
            foreach (ResultRow row in rows)
            {
                if (row.Labels is not { Length: > 0 } labels)
                {
                    definitions.Add(row.Labels is null ? 0 : full - 1);
                    repetitions.Add(0);
                    continue;
                }
                for (int i = 0; i < labels.Length; i++)
                {
                    values.Add(labels[i].AsMemory());
                    definitions.Add(full);
                    repetitions.Add(i == 0 ? 0 : 1);
                }
            }
            await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(item, values.ToArray(), definitions.ToArray(), repetitions.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask CompleteAsync(CancellationToken cancellationToken = default)
        {
            ParquetWriter writer = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            _file.Flush(flushToDisk: true);
        }

        public async ValueTask DisposeAsync()
        {
            if (_writer is not null)
            {
                await _writer.DisposeAsync().ConfigureAwait(false);
            }
            await _file.DisposeAsync().ConfigureAwait(false);
        }
    }
}
