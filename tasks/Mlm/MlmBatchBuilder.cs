using System.Globalization;
using StreamLoader.Core.Randomness;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Mlm;

/// <summary>
/// Cuts each document into windows of seq_len − 2 tokens (none dropped), frames each as [CLS] window [SEP], pads,
/// and masks each full batch with a random stream derived from the seed and the batch index.
/// </summary>
internal sealed class MlmBatchBuilder : IBatchBuilder
{
    private readonly BatchingContext _context;
    private readonly double _probability;
    private readonly RowBatchWriter _rows;
    private readonly SpecialTokens _special;
    private readonly BertMasking _masking;

    public MlmBatchBuilder(BatchingContext context, double probability)
    {
        _context = context;
        _probability = probability;
        _special = context.Tokenizer.Special;
        _rows = new RowBatchWriter(MaskedLanguageModelingTask.TaskName, context.BatchSize, context.SequenceLength, _special.Pad, context.FirstBatchSequence);
        _masking = new BertMasking(_special, context.Tokenizer.VocabularySize, probability);
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        ReadOnlySpan<int> ids = document.Ids;
        int window = _context.SequenceLength - 2;
        for (int offset = 0; offset < ids.Length; offset += window)
        {
            int length = Math.Min(window, ids.Length - offset);
            _rows.AppendRow(ids.Slice(offset, length), _special.Cls, _special.Sep);
            _rows.MarkPosition(document, offset + length);
            if (_rows.IsFull)
            {
                completed.Add(Finish());
            }
        }
    }

    public void Complete(List<TensorBatch> completed)
    {
        if (_rows.Rows > 0)
        {
            completed.Add(Finish());
        }
    }

    private TensorBatch Finish()
    {
        TensorBatch batch = _rows.Take();
        // One stream per batch, derived from the seed and the batch index: a batch's masking does not depend on others.
        var random = new Xoshiro256((ulong)Seeds.Derive(_context.Seed, batch.Sequence, 0x4D4C4D));
        TensorBuffer labels = batch.Add("labels", TensorDType.I64, batch["input_ids"].Shape, clear: false);
        MaskingCounts counts = _masking.Apply(batch["input_ids"].AsSpan<long>(), batch["attention_mask"].AsSpan<long>(), labels.AsSpan<long>(), ref random);
        batch.Metadata["mask_probability"] = _probability.ToString(CultureInfo.InvariantCulture);
        batch.Metadata["masked_positions"] = counts.Chosen.ToString(CultureInfo.InvariantCulture);
        return batch;
    }
}
