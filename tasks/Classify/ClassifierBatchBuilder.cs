using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Classify;

/// <summary>
/// One row per document: [CLS] the first seq_len − 2 ids [SEP] (longer documents are cut, and counted), and its labels:
/// a class index per row (single-label, int64 <c>[batch]</c>) or a multi-hot row (multi-label, float32
/// <c>[batch, labels]</c>); -100 on padding rows. Held-out documents go to their own batches, marked <c>split=eval</c>.
/// </summary>
internal sealed class ClassifierBatchBuilder : IBatchBuilder
{
    private readonly BatchingContext _context;
    private readonly string _task;
    private readonly bool _multiLabel;
    private readonly LabelSet _labels;
    private readonly RowBatchWriter _train;
    private readonly RowBatchWriter _heldOut;
    private readonly string _labelMetadata;
    private readonly HashSet<string> _heldOutSeen = new(StringComparer.Ordinal);

    public ClassifierBatchBuilder(BatchingContext context, string task, bool multiLabel)
    {
        ClassificationTask.RequireRowTokens(task, context);
        _context = context;
        _task = task;
        _multiLabel = multiLabel;
        _labels = context.RequireLabels(task);
        _labelMetadata = _labels.ToMetadata();
        var sequence = new BatchSequence(context.FirstBatchSequence);
        int pad = context.Tokenizer.Special.Pad;
        _train = new RowBatchWriter(task, context.BatchSize, context.SequenceLength, pad, sequence);
        _heldOut = new RowBatchWriter(task, context.BatchSize, context.SequenceLength, pad, sequence);
    }

    /// <summary>The tensors of a classifier batch.</summary>
    public static IReadOnlyList<TensorSpec> Describe(BatchingContext context, bool multiLabel)
    {
        int[] shape = [context.BatchSize, context.SequenceLength];
        return
        [
            new(TaskTensors.InputIds, TensorDType.I64, shape),
            new(TaskTensors.AttentionMask, TensorDType.I64, shape),
            .. TaskTensors.Provenance(context.BatchSize),
            multiLabel
                ? new(TaskTensors.Labels, TensorDType.F32, [context.BatchSize, context.RequireLabels("multilabel").Count])
                : new(TaskTensors.Labels, TensorDType.I64, [context.BatchSize]),
        ];
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        if (document.Count == 0)
        {
            return;
        }
        IReadOnlyList<string>? labels = document.Source.Labels;
        if (labels is null)
        {
            _context.Counters.Add("no_label");
            return;
        }
        Span<int> indexes = stackalloc int[Math.Min(labels.Count, 256)];
        int known = 0;
        foreach (string label in labels)
        {
            int index = _labels.IndexOf(label);
            if (index < 0)
            {
                _context.Counters.Add("unknown_label");
                return;
            }
            if (known < indexes.Length)
            {
                indexes[known++] = index;
            }
        }
        if (!_multiLabel && known != 1)
        {
            _context.Counters.Add(known == 0 ? "no_label" : "several_labels");
            return;
        }
        bool heldOut = _context.HeldOut.IsHeldOut(document.Source.Id, document.Source.SourceName);
        if (heldOut && !_heldOutSeen.Add(document.Source.Id))
        {
            // A later epoch: the held-out set is each document once.
            return;
        }
        RowBatchWriter rows = heldOut ? _heldOut : _train;
        int width = _context.SequenceLength - 2;
        if (document.Count > width)
        {
            _context.Counters.Add("truncated");
        }
        int row = rows.Rows;
        rows.AppendRow(document.Ids[..Math.Min(document.Count, width)], _context.Tokenizer.Special.Cls, _context.Tokenizer.Special.Sep, document.Source);
        WriteLabels(rows, row, indexes[..known]);
        rows.MarkPosition(document, document.Count);
        if (rows.IsFull)
        {
            completed.Add(Finish(rows, heldOut));
        }
    }

    public void Complete(List<TensorBatch> completed)
    {
        if (_train.Rows > 0)
        {
            completed.Add(Finish(_train, heldOut: false));
        }
        if (_heldOut.Rows > 0)
        {
            completed.Add(Finish(_heldOut, heldOut: true));
        }
    }

    private void WriteLabels(RowBatchWriter rows, int row, ReadOnlySpan<int> indexes)
    {
        if (_multiLabel)
        {
            Span<float> hot = rows.TargetRow(TaskTensors.Labels, TensorDType.F32, row, _labels.Count, (float)TaskTensors.IgnoreIndex);
            hot.Clear();
            foreach (int index in indexes)
            {
                hot[index] = 1;
            }
        }
        else
        {
            rows.TargetRow(TaskTensors.Labels, TensorDType.I64, row, 0, TaskTensors.IgnoreIndex)[0] = indexes[0];
        }
    }

    private TensorBatch Finish(RowBatchWriter rows, bool heldOut)
    {
        TensorBatch batch = rows.Take();
        batch.Metadata[BatchMetadataKeys.LabelNames] = _labelMetadata;
        if (heldOut)
        {
            batch.Metadata[BatchMetadataKeys.Split] = BatchMetadataKeys.EvalSplit;
        }
        return batch;
    }
}
