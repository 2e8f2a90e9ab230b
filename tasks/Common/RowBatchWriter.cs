using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Common;

/// <summary>
/// Fills one fixed-shape batch row by row: <c>input_ids</c> (pre-filled with [PAD]) and <c>attention_mask</c>, both
/// <c>[batch, seq]</c> int64, and for packed rows <c>position_ids</c> and <c>document_ids</c>. Tasks add their own
/// target tensors before handing the batch on.
/// </summary>
public sealed class RowBatchWriter
{
    private readonly string _task;
    private readonly int _batchSize;
    private readonly int _sequenceLength;
    private readonly int _pad;
    private readonly bool _boundaries;
    private readonly BatchSequence _sequence;
    private TensorBatch? _batch;
    private long _resumeOrdinal = -1;
    private long _resumeOffset;

    /// <param name="task">The task name the batches carry.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="sequenceLength">Tokens per row.</param>
    /// <param name="padId">The padding id.</param>
    /// <param name="firstSequence">Index of the first batch: a resumed run continues the numbering (and so the seeds derived from it).</param>
    /// <param name="boundaries">Also write <c>position_ids</c> and <c>document_ids</c> (packed rows: <see cref="AppendPackedRow"/>).</param>
    public RowBatchWriter(string task, int batchSize, int sequenceLength, int padId, long firstSequence = 0, bool boundaries = false)
        : this(task, batchSize, sequenceLength, padId, new BatchSequence(firstSequence), boundaries)
    {
    }

    /// <summary>A writer that numbers its batches from a counter it shares with other writers of one builder (training and held-out rows).</summary>
    public RowBatchWriter(string task, int batchSize, int sequenceLength, int padId, BatchSequence sequence, bool boundaries = false)
    {
        _boundaries = boundaries;
        _task = task;
        _batchSize = batchSize;
        _sequenceLength = sequenceLength;
        _pad = padId;
        _sequence = sequence;
    }

    /// <summary>Rows written into the current batch.</summary>
    public int Rows { get; private set; }

    /// <summary>True when the current batch has all its rows.</summary>
    public bool IsFull => Rows == _batchSize;

    /// <summary>Index the next batch taken will carry.</summary>
    public long NextSequence => _sequence.Next;

    /// <summary>Also write each row's document id (<see cref="BatchMetadataKeys.RowIds"/>) for rows appended with their source.</summary>
    public bool CarryRowIds { get; init; }

    private readonly List<string> _rowIds = [];
    private readonly List<int[]> _shapes = [];

    /// <summary>
    /// Writes <c>[prefix] tokens [suffix]</c> as the next row; the rest of the row stays padding. With the row's
    /// <paramref name="source"/> document, the row also carries where that document stands in its source
    /// (<see cref="TaskTensors.SourcePart"/>, <see cref="TaskTensors.SourceOrdinal"/>) and, with <see cref="CarryRowIds"/>, its id.
    /// </summary>
    public void AppendRow(ReadOnlySpan<int> tokens, int prefix = -1, int suffix = -1, Document? source = null)
    {
        TensorBatch batch = _batch ??= Start();
        if (source is not null)
        {
            TargetRow(TaskTensors.SourcePart, TensorDType.I64, Rows, 0, -1L)[0] = source.SourcePart;
            TargetRow(TaskTensors.SourceOrdinal, TensorDType.I64, Rows, 0, -1L)[0] = source.SourceOrdinal;
            if (CarryRowIds)
            {
                _rowIds.Add(source.Id);
            }
        }
        int needed = tokens.Length + (prefix >= 0 ? 1 : 0) + (suffix >= 0 ? 1 : 0);
        if (needed > _sequenceLength)
        {
            throw new ArgumentException($"A row of {needed} tokens does not fit the sequence length {_sequenceLength}.", nameof(tokens));
        }
        Span<long> ids = batch[TaskTensors.InputIds].AsSpan<long>().Slice(Rows * _sequenceLength, _sequenceLength);
        Span<long> mask = batch[TaskTensors.AttentionMask].AsSpan<long>().Slice(Rows * _sequenceLength, _sequenceLength);
        int at = 0;
        if (prefix >= 0)
        {
            ids[at++] = prefix;
        }
        Int64Rows.Widen(tokens, ids[at..]);
        at += tokens.Length;
        if (suffix >= 0)
        {
            ids[at++] = suffix;
        }
        mask[..at].Fill(1);
        // The whole row is written here, padding included: one pass over it, not a fill of the batch beforehand. A
        // row appended whole holds no document boundaries: with boundaries on, its positions are 0 and its documents
        // -1 throughout, as padding's are.
        int row = Rows * _sequenceLength;
        Pad(batch, row + at, row + _sequenceLength);
        if (_boundaries)
        {
            PadBoundaries(batch, row, row + at);
        }
        batch.TokenCount += at;
        Rows++;
    }

    /// <summary>
    /// Writes packed tokens (several documents, <see cref="TokenPacker"/>) as the next row, after an optional
    /// <paramref name="prefix"/>. Positions restart at 0 at each document in the row, and each token's document is
    /// numbered 0, 1, … within the row (the prefix belongs to the first); padding keeps document -1.
    /// </summary>
    public void AppendPackedRow(ReadOnlySpan<PackedToken> tokens, int prefix = -1)
    {
        if (!_boundaries)
        {
            throw new InvalidOperationException("This writer was made without boundaries; pass boundaries: true for packed rows.");
        }
        TensorBatch batch = _batch ??= Start();
        int needed = tokens.Length + (prefix >= 0 ? 1 : 0);
        if (needed > _sequenceLength)
        {
            throw new ArgumentException($"A row of {needed} tokens does not fit the sequence length {_sequenceLength}.", nameof(tokens));
        }
        int row = Rows * _sequenceLength;
        Span<long> ids = batch[TaskTensors.InputIds].AsSpan<long>().Slice(row, _sequenceLength);
        Span<long> mask = batch[TaskTensors.AttentionMask].AsSpan<long>().Slice(row, _sequenceLength);
        Span<long> positions = batch[TaskTensors.PositionIds].AsSpan<long>().Slice(row, _sequenceLength);
        Span<long> documents = batch[TaskTensors.DocumentIds].AsSpan<long>().Slice(row, _sequenceLength);
        int at = 0;
        int document = 0;
        int position = 0;
        if (prefix >= 0)
        {
            ids[0] = prefix;
            positions[0] = position++;
            documents[0] = 0;
            at = 1;
        }
        for (int i = 0; i < tokens.Length; i++, at++)
        {
            if (i > 0 && tokens[i].Document != tokens[i - 1].Document)
            {
                document++;
                position = 0;
            }
            ids[at] = tokens[i].Id;
            positions[at] = position++;
            documents[at] = document;
        }
        mask[..at].Fill(1);
        Pad(batch, row + at, row + _sequenceLength);
        batch.TokenCount += at;
        Rows++;
    }

    /// <summary>
    /// Row <paramref name="row"/> of the current batch's tensor <paramref name="name"/>, which is <c>[batch, columns]</c>
    /// (<c>[batch]</c> when <paramref name="columns"/> is 0, a one-element row) and is added on first use with every
    /// element <paramref name="fill"/>: a task's targets, -100 (<see cref="TaskTensors.IgnoreIndex"/>) where a position or
    /// a padding row has none.
    /// </summary>
    public Span<T> TargetRow<T>(string name, TensorDType dtype, int row, int columns, T fill)
        where T : unmanaged
    {
        TensorBatch batch = Current;
        if (!batch.TryGet(name, out TensorBuffer tensor))
        {
            tensor = batch.Add(name, dtype, Shape(columns), clear: false);
            tensor.AsSpan<T>().Fill(fill);
        }
        int width = Math.Max(columns, 1);
        return tensor.AsSpan<T>().Slice(row * width, width);
    }

    /// <summary>Records where a run resumed after the rows written so far continues: document <paramref name="ordinal"/>, its token <paramref name="offset"/>.</summary>
    public void MarkResumePoint(long ordinal, long offset) => (_resumeOrdinal, _resumeOffset) = (ordinal, offset);

    /// <summary>
    /// Drops the <paramref name="count"/> tokens just written from <paramref name="packer"/> and marks where the next row
    /// starts: the packed builders' step after each row.
    /// </summary>
    public void Consumed(TokenPacker packer, int count)
    {
        packer.Drop(count);
        (long ordinal, long offset) = packer.ResumePoint;
        MarkResumePoint(ordinal, offset);
    }

    /// <summary>
    /// Records that the rows written so far hold <paramref name="document"/>'s ids up to <paramref name="end"/> (an
    /// index into <see cref="TokenizedDocument.Ids"/>). Each batch taken carries the point right after its last row
    /// (<see cref="BatchMetadataKeys.ResumeOrdinal"/>, <see cref="BatchMetadataKeys.ResumeOffset"/>), so a run
    /// resumed after it continues with the next row exactly: nothing repeats, nothing is lost.
    /// </summary>
    public void MarkPosition(TokenizedDocument document, int end)
    {
        int absolute = document.Skipped + end;
        if (end >= document.Count)
        {
            (_resumeOrdinal, _resumeOffset) = (document.Source.Ordinal + 1, 0);
        }
        else
        {
            (_resumeOrdinal, _resumeOffset) = (document.Source.Ordinal, absolute);
        }
    }

    /// <summary>The batch being filled (created on first use). Its <c>input_ids</c> and <c>attention_mask</c> hold the rows appended so far; the rows after them are written by <see cref="Take"/>.</summary>
    public TensorBatch Current => _batch ??= Start();

    /// <summary>Hands over the current batch (padded rows stay padding) and starts afresh.</summary>
    public TensorBatch Take()
    {
        TensorBatch batch = _batch ?? throw new InvalidOperationException("No rows were written.");
        // Rows never appended (a partial last batch) are padding.
        Pad(batch, Rows * _sequenceLength, _batchSize * _sequenceLength);
        batch.Sequence = _sequence.Next++;
        batch.RowCount = Rows;
        if (_resumeOrdinal >= 0)
        {
            batch.Metadata[BatchMetadataKeys.ResumeOrdinal] = MetadataText.Of(_resumeOrdinal);
            batch.Metadata[BatchMetadataKeys.ResumeOffset] = MetadataText.Of(_resumeOffset);
        }
        if (CarryRowIds)
        {
            batch.Metadata[BatchMetadataKeys.RowIds] = System.Text.Json.JsonSerializer.Serialize(_rowIds, RowIdsJsonContext.Default.ListString);
            _rowIds.Clear();
        }
        _batch = null;
        Rows = 0;
        return batch;
    }

    private TensorBatch Start()
    {
        var batch = new TensorBatch(_task, -1);
        int[] shape = Shape(_sequenceLength);
        // Not filled here: each row is written whole when it is appended, and rows never appended are padded by Take.
        batch.Add(TaskTensors.InputIds, TensorDType.I64, shape, clear: false);
        batch.Add(TaskTensors.AttentionMask, TensorDType.I64, shape, clear: false);
        if (_boundaries)
        {
            batch.Add(TaskTensors.PositionIds, TensorDType.I64, shape, clear: false);
            batch.Add(TaskTensors.DocumentIds, TensorDType.I64, shape, clear: false);
        }
        batch.Metadata["seq_len"] = MetadataText.Of(_sequenceLength);
        return batch;
    }

    /// <summary>Writes padding over the batch's flat positions [<paramref name="from"/>, <paramref name="to"/>): [PAD] ids, mask 0, and with boundaries position 0 and document -1.</summary>
    private void Pad(TensorBatch batch, int from, int to)
    {
        batch[TaskTensors.InputIds].AsSpan<long>()[from..to].Fill(_pad);
        batch[TaskTensors.AttentionMask].AsSpan<long>()[from..to].Clear();
        if (_boundaries)
        {
            PadBoundaries(batch, from, to);
        }
    }

    private static void PadBoundaries(TensorBatch batch, int from, int to)
    {
        batch[TaskTensors.PositionIds].AsSpan<long>()[from..to].Clear();
        batch[TaskTensors.DocumentIds].AsSpan<long>()[from..to].Fill(-1);
    }

    /// <summary>The shape <c>[batch, columns]</c> (<c>[batch]</c> for 0), made once per width: every batch's tensors share them, and nothing changes a shape.</summary>
    private int[] Shape(int columns)
    {
        foreach (int[] shape in _shapes)
        {
            if (columns == 0 ? shape.Length == 1 : shape.Length == 2 && shape[1] == columns)
            {
                return shape;
            }
        }
        int[] made = columns == 0 ? [_batchSize] : [_batchSize, columns];
        _shapes.Add(made);
        return made;
    }
}

/// <summary>Source-generated JSON for <see cref="BatchMetadataKeys.RowIds"/>.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
internal sealed partial class RowIdsJsonContext : System.Text.Json.Serialization.JsonSerializerContext
{
}

/// <summary>The index the next completed batch carries; shared by the writers of one builder so batches are numbered in the order they leave.</summary>
public sealed class BatchSequence
{
    public BatchSequence(long first)
    {
        Next = first;
    }

    /// <summary>The index the next batch taken gets.</summary>
    public long Next { get; set; }
}
