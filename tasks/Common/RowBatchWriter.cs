using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Common;

/// <summary>
/// Fills one fixed-shape batch row by row: <c>input_ids</c> (pre-filled with [PAD]) and <c>attention_mask</c>, both
/// <c>[batch, seq]</c> int64. Tasks add their own target tensors before handing the batch on.
/// </summary>
public sealed class RowBatchWriter
{
    private readonly string _task;
    private readonly int _batchSize;
    private readonly int _sequenceLength;
    private readonly int _pad;
    private TensorBatch? _batch;
    private long _sequence;
    private long _resumeOrdinal = -1;
    private long _resumeOffset;

    /// <param name="task">The task name the batches carry.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="sequenceLength">Tokens per row.</param>
    /// <param name="padId">The padding id.</param>
    /// <param name="firstSequence">Index of the first batch: a resumed run continues the numbering (and so the seeds derived from it).</param>
    public RowBatchWriter(string task, int batchSize, int sequenceLength, int padId, long firstSequence = 0)
    {
        _task = task;
        _batchSize = batchSize;
        _sequenceLength = sequenceLength;
        _pad = padId;
        _sequence = firstSequence;
    }

    /// <summary>Rows written into the current batch.</summary>
    public int Rows { get; private set; }

    /// <summary>True when the current batch has all its rows.</summary>
    public bool IsFull => Rows == _batchSize;

    /// <summary>Index the next batch will carry.</summary>
    public long NextSequence => _sequence;

    /// <summary>Writes <c>[prefix] tokens [suffix]</c> as the next row; the rest of the row stays padding.</summary>
    public void AppendRow(ReadOnlySpan<int> tokens, int prefix = -1, int suffix = -1)
    {
        TensorBatch batch = _batch ??= Start();
        int needed = tokens.Length + (prefix >= 0 ? 1 : 0) + (suffix >= 0 ? 1 : 0);
        if (needed > _sequenceLength)
        {
            throw new ArgumentException($"A row of {needed} tokens does not fit the sequence length {_sequenceLength}.", nameof(tokens));
        }
        Span<long> ids = batch["input_ids"].AsSpan<long>().Slice(Rows * _sequenceLength, _sequenceLength);
        Span<long> mask = batch["attention_mask"].AsSpan<long>().Slice(Rows * _sequenceLength, _sequenceLength);
        int at = 0;
        if (prefix >= 0)
        {
            ids[at++] = prefix;
        }
        for (int i = 0; i < tokens.Length; i++)
        {
            ids[at++] = tokens[i];
        }
        if (suffix >= 0)
        {
            ids[at++] = suffix;
        }
        mask[..at].Fill(1);
        batch.TokenCount += at;
        Rows++;
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

    /// <summary>The batch being filled (created on first use).</summary>
    public TensorBatch Current => _batch ??= Start();

    /// <summary>Hands over the current batch (padded rows stay padding) and starts afresh.</summary>
    public TensorBatch Take()
    {
        TensorBatch batch = _batch ?? throw new InvalidOperationException("No rows were written.");
        batch.RowCount = Rows;
        if (_resumeOrdinal >= 0)
        {
            batch.Metadata[BatchMetadataKeys.ResumeOrdinal] = _resumeOrdinal.ToString(System.Globalization.CultureInfo.InvariantCulture);
            batch.Metadata[BatchMetadataKeys.ResumeOffset] = _resumeOffset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        _batch = null;
        Rows = 0;
        return batch;
    }

    private TensorBatch Start()
    {
        var batch = new TensorBatch(_task, _sequence++);
        int[] shape = [_batchSize, _sequenceLength];
        batch.Add("input_ids", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(_pad);
        batch.Add("attention_mask", TensorDType.I64, shape);
        batch.Metadata["seq_len"] = _sequenceLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return batch;
    }
}
