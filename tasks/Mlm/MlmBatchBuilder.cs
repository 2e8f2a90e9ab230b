using System.Globalization;
using StreamLoader.Core.Randomness;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Mlm;

/// <summary>
/// Without packing, cuts each document into windows of seq_len − 2 tokens (none dropped) framed as [CLS] window [SEP].
/// With packing, rows are [CLS] then documents back to back, each followed by [SEP], with per-document positions and
/// document ids. Each full batch is masked with a random stream derived from the seed and the batch index.
/// </summary>
internal sealed class MlmBatchBuilder : IBatchBuilder
{
    private readonly string _probabilityText;
    private readonly BatchingContext _context;
    private readonly double _probability;
    private readonly RowBatchWriter _rows;
    private readonly SpecialTokens _special;
    private readonly BertMasking _masking;
    private readonly TokenPacker? _packer;

    public MlmBatchBuilder(BatchingContext context, double probability, bool pack)
    {
        _context = context;
        _probability = probability;
        _special = context.Tokenizer.Special;
        _rows = new RowBatchWriter(MaskedLanguageModelingTask.TaskName, context.BatchSize, context.SequenceLength, _special.Pad, context.FirstBatchSequence, boundaries: pack);
        _masking = new BertMasking(_special, context.Tokenizer.VocabularySize, probability);
        _probabilityText = probability.ToString(CultureInfo.InvariantCulture);
        _packer = pack ? new TokenPacker(_special.Sep) : null;
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        if (_packer is not null)
        {
            _packer.Add(document);
            while (_packer.Pending >= _context.SequenceLength - 1)
            {
                TakePackedRow(completed);
            }
            return;
        }
        foreach ((int offset, int length) in TokenWindows.Cut(document.Count, _context.SequenceLength - 2))
        {
            _rows.AppendRow(document.Ids.Slice(offset, length), _special.Cls, _special.Sep, document.Source);
            _rows.MarkPosition(document, offset + length);
            if (_rows.IsFull)
            {
                completed.Add(Finish());
            }
        }
    }

    public void Complete(List<TensorBatch> completed)
    {
        while (_packer is { Pending: > 0 })
        {
            TakePackedRow(completed);
        }
        if (_rows.Rows > 0)
        {
            completed.Add(Finish());
        }
    }

    private void TakePackedRow(List<TensorBatch> completed)
    {
        int take = Math.Min(_packer!.Pending, _context.SequenceLength - 1);
        _rows.AppendPackedRow(_packer.Tokens[..take], _special.Cls);
        _rows.Consumed(_packer, take);
        if (_rows.IsFull)
        {
            completed.Add(Finish());
        }
    }

    private TensorBatch Finish()
    {
        TensorBatch batch = _rows.Take();
        // One stream per batch, derived from the seed and the batch index: a batch's masking does not depend on others.
        var random = new Xoshiro256((ulong)Seeds.Derive(_context.Seed, batch.Sequence, 0x4D4C4D));
        TensorBuffer labels = batch.Add(TaskTensors.Labels, TensorDType.I64, batch[TaskTensors.InputIds].Shape, clear: false);
        MaskingCounts counts = _masking.Apply(batch[TaskTensors.InputIds].AsSpan<long>(), batch[TaskTensors.AttentionMask].AsSpan<long>(), labels.AsSpan<long>(), ref random);
        batch.Metadata["mask_probability"] = _probabilityText;
        batch.Metadata["masked_positions"] = MetadataText.Of(counts.Chosen);
        return batch;
    }
}
