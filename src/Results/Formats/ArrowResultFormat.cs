using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Storage;

namespace StreamLoader.Results.Formats;

/// <summary>
/// Arrow IPC file format: one record batch per write; <c>labels</c> a <c>list&lt;utf8&gt;</c>, <c>probabilities</c> a
/// struct of one float32 field per label. pyarrow (<c>pa.ipc.open_file</c>), pandas (<c>read_feather</c>) and Hugging
/// Face <c>datasets</c> read it.
/// </summary>
public sealed class ArrowResultFormat : IResultFormat
{
    public string Name => "arrow";

    public IReadOnlyList<string> Extensions { get; } = [".arrow", ".feather", ".ipc"];

    public IResultFileWriter Create(string path, ResultSchema schema) => new Writer(path, schema);

    /// <summary>The Arrow schema of <paramref name="schema"/>'s rows.</summary>
    public static Schema ArrowSchema(ResultSchema schema)
    {
        var builder = new Schema.Builder().Field(new Field("id", StringType.Default, nullable: false));
        foreach (string column in schema.KeepColumns)
        {
            builder.Field(new Field(column, StringType.Default, nullable: true));
        }
        builder.Field(schema.MultiLabel
            ? new Field("labels", new ListType(new Field("item", StringType.Default, nullable: false)), nullable: true)
            : new Field("label", StringType.Default, nullable: true));
        builder.Field(new Field("probabilities", ProbabilitiesType(schema), nullable: true));
        builder.Field(new Field("status", StringType.Default, nullable: false));
        builder.Field(new Field("tokens", Int32Type.Default, nullable: false));
        builder.Field(new Field("source", StringType.Default, nullable: false));
        builder.Field(new Field("source_part", Int32Type.Default, nullable: false));
        builder.Field(new Field("source_ordinal", Int64Type.Default, nullable: false));
        builder.Field(new Field("source_line", Int64Type.Default, nullable: true));
        builder.Field(new Field("source_offset", Int64Type.Default, nullable: true));
        builder.Field(new Field("model_hash", StringType.Default, nullable: false));
        builder.Field(new Field("tokenizer_hash", StringType.Default, nullable: false));
        return builder.Build();
    }

    private static StructType ProbabilitiesType(ResultSchema schema) =>
        new(schema.LabelNames.Select(l => new Field(l, FloatType.Default, nullable: false)).ToList());

    public async IAsyncEnumerable<ResultRow> ReadAsync(string path, ResultSchema schema, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using FileStream stream = File.OpenRead(path);
        using var reader = new ArrowFileReader(stream);
        int keep = schema.KeepColumns.Count;
        while (await reader.ReadNextRecordBatchAsync(cancellationToken).ConfigureAwait(false) is { } batch)
        {
            using (batch)
            {
                int c = 0;
                var id = (StringArray)batch.Column(c++);
                var kept = new StringArray[keep];
                for (int k = 0; k < keep; k++)
                {
                    kept[k] = (StringArray)batch.Column(c++);
                }
                IArrowArray labels = batch.Column(c++);
                var probabilities = (StructArray)batch.Column(c++);
                var status = (StringArray)batch.Column(c++);
                var tokens = (Int32Array)batch.Column(c++);
                var source = (StringArray)batch.Column(c++);
                var part = (Int32Array)batch.Column(c++);
                var ordinal = (Int64Array)batch.Column(c++);
                var line = (Int64Array)batch.Column(c++);
                var offset = (Int64Array)batch.Column(c++);
                FloatArray[] byLabel = probabilities.Fields.Cast<FloatArray>().ToArray();
                for (int i = 0; i < batch.Length; i++)
                {
                    string?[] values = new string?[keep];
                    for (int k = 0; k < keep; k++)
                    {
                        values[k] = kept[k].IsNull(i) ? null : kept[k].GetString(i);
                    }
                    float[]? p = null;
                    if (!probabilities.IsNull(i))
                    {
                        p = new float[byLabel.Length];
                        for (int l = 0; l < p.Length; l++)
                        {
                            p[l] = byLabel[l].GetValue(i)!.Value;
                        }
                    }
                    string[]? predicted = null;
                    string? label = null;
                    if (labels is ListArray list)
                    {
                        if (!list.IsNull(i))
                        {
                            var items = (StringArray)list.GetSlicedValues(i);
                            predicted = new string[items.Length];
                            for (int j = 0; j < items.Length; j++)
                            {
                                predicted[j] = items.GetString(j);
                            }
                        }
                    }
                    else
                    {
                        var single = (StringArray)labels;
                        label = single.IsNull(i) ? null : single.GetString(i);
                    }
                    yield return new ResultRow
                    {
                        Id = id.GetString(i),
                        Kept = values,
                        Status = status.GetString(i),
                        Label = label,
                        Labels = predicted,
                        Probabilities = p,
                        Tokens = tokens.GetValue(i)!.Value,
                        Source = source.GetString(i),
                        Position = new SourcePosition(part.GetValue(i)!.Value, ordinal.GetValue(i)!.Value),
                        Line = line.GetValue(i),
                        Offset = offset.GetValue(i),
                    };
                }
            }
        }
    }

    private sealed class Writer : IResultFileWriter
    {
        private readonly OutputFileStream _file;
        private readonly ArrowFileWriter _writer;
        private readonly ResultSchema _schema;
        private readonly Schema _arrow;

        public Writer(string path, ResultSchema schema)
        {
            _schema = schema;
            _arrow = ArrowSchema(schema);
            _file = OutputFileStream.Create(path, 1 << 16);
            _writer = new ArrowFileWriter(_file, _arrow, leaveOpen: true);
        }

        public async ValueTask WriteAsync(IReadOnlyList<ResultRow> rows, CancellationToken cancellationToken = default)
        {
            if (rows.Count == 0)
            {
                return;
            }
            using RecordBatch batch = Build(rows);
            await _writer.WriteRecordBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        private RecordBatch Build(IReadOnlyList<ResultRow> rows)
        {
            var arrays = new List<IArrowArray> { Strings(rows, r => r.Id) };
            for (int k = 0; k < _schema.KeepColumns.Count; k++)
            {
                int column = k;
                arrays.Add(Strings(rows, r => r.Kept[column]));
            }
            if (_schema.MultiLabel)
            {
                var list = new ListArray.Builder(new Field("item", StringType.Default, nullable: false));
                var items = (StringArray.Builder)list.ValueBuilder;
                foreach (ResultRow row in rows)
                {
                    if (row.Labels is null)
                    {
                        list.AppendNull();
                        continue;
                    }
                    list.Append();
                    foreach (string label in row.Labels)
                    {
                        items.Append(label);
                    }
                }
                arrays.Add(list.Build());
            }
            else
            {
                arrays.Add(Strings(rows, r => r.Label));
            }
            arrays.Add(Probabilities(rows));
            arrays.Add(Strings(rows, r => r.Status));
            arrays.Add(new Int32Array.Builder().AppendRange(rows.Select(r => r.Tokens)).Build());
            arrays.Add(Strings(rows, r => r.Source));
            arrays.Add(new Int32Array.Builder().AppendRange(rows.Select(r => r.Position.Part)).Build());
            arrays.Add(new Int64Array.Builder().AppendRange(rows.Select(r => r.Position.Ordinal)).Build());
            arrays.Add(Longs(rows, r => r.Line));
            arrays.Add(Longs(rows, r => r.Offset));
            arrays.Add(Strings(rows, _ => _schema.ModelHash));
            arrays.Add(Strings(rows, _ => _schema.TokenizerHash));
            return new RecordBatch(_arrow, arrays, rows.Count);
        }

        private StructArray Probabilities(IReadOnlyList<ResultRow> rows)
        {
            int labels = _schema.LabelNames.Count;
            var children = new FloatArray.Builder[labels];
            for (int l = 0; l < labels; l++)
            {
                children[l] = new FloatArray.Builder();
            }
            var valid = new ArrowBuffer.BitmapBuilder(rows.Count);
            int nulls = 0;
            foreach (ResultRow row in rows)
            {
                valid.Append(row.Probabilities is not null);
                nulls += row.Probabilities is null ? 1 : 0;
                for (int l = 0; l < labels; l++)
                {
                    // A null struct's fields still take a slot; 0 stands there.
                    children[l].Append(row.Probabilities?[l] ?? 0f);
                }
            }
            return new StructArray(ProbabilitiesType(_schema), rows.Count, children.Select(c => (IArrowArray)c.Build()), valid.Build(), nulls);
        }

        private static StringArray Strings(IReadOnlyList<ResultRow> rows, Func<ResultRow, string?> value)
        {
            var builder = new StringArray.Builder();
            foreach (ResultRow row in rows)
            {
                if (value(row) is { } text)
                {
                    builder.Append(text);
                }
                else
                {
                    builder.AppendNull();
                }
            }
            return builder.Build();
        }

        private static Int64Array Longs(IReadOnlyList<ResultRow> rows, Func<ResultRow, long?> value)
        {
            var builder = new Int64Array.Builder();
            foreach (ResultRow row in rows)
            {
                if (value(row) is long v)
                {
                    builder.Append(v);
                }
                else
                {
                    builder.AppendNull();
                }
            }
            return builder.Build();
        }

        public async ValueTask CompleteAsync(CancellationToken cancellationToken = default)
        {
            await _writer.WriteEndAsync(cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            _file.Flush(flushToDisk: true);
        }

        public async ValueTask DisposeAsync()
        {
            _writer.Dispose();
            await _file.DisposeAsync().ConfigureAwait(false);
        }
    }
}
