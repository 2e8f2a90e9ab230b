using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Clm;

/// <summary>
/// Causal language modelling, GPT-style: documents packed back to back with an end-of-text token between them, so rows
/// carry no padding; labels are the inputs shifted by one, and each row carries its document boundaries.
/// </summary>
/// <remarks>
/// Batches carry int64 <c>[batch, seq]</c> <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c> (restarting at
/// 0 at each document), <c>document_ids</c> (0, 1, … per row; -1 on padding) and <c>labels</c> (the next token; -100
/// where the next token belongs to another document, and on padding).
/// </remarks>
public sealed class CausalLanguageModelingTask : ITrainingTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "clm";

    public string Name => TaskName;

    public string Description => "Causal language modelling (GPT): documents packed with an end-of-text token between them; predict each next token within its document.";

    public TaskMode Mode => TaskMode.Train;

    /// <summary>The <c>pack</c> setting.</summary>
    public static readonly TaskOption<bool> Pack = TaskOption.Boolean("pack", true, "Pack documents back to back into rows, an end-of-text token between them (no padding); false gives each document its own rows.", "--pack");

    public IReadOnlyList<TaskOption> Options { get; } = [Pack];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context)
    {
        int[] shape = [context.BatchSize, context.SequenceLength];
        return
        [
            new(TaskTensors.InputIds, TensorDType.I64, shape),
            new(TaskTensors.AttentionMask, TensorDType.I64, shape),
            new(TaskTensors.PositionIds, TensorDType.I64, shape),
            new(TaskTensors.DocumentIds, TensorDType.I64, shape),
            new(TaskTensors.Labels, TensorDType.I64, shape),
        ];
    }

    public IBatchBuilder CreateBatchBuilder(BatchingContext context)
    {
        TaskTokens.Require(TaskName, context.Tokenizer, ("an end-of-text token to put between documents (eos_token, </s>, <|endoftext|>, [SEP])", context.Tokenizer.Special.Sep),
            ("a padding token (pad_token, or the end-of-text token)", context.Tokenizer.Special.Pad));
        return new ClmBatchBuilder(context, Pack.Read(context.Settings));
    }

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        if (batch.TryGet(TaskTensors.DocumentIds, out TensorBuffer documents))
        {
            int columns = documents.Shape[1];
            for (int r = 0; r < Math.Min(documents.Shape[0], maxRows); r++)
            {
                long last = -1;
                foreach (long d in documents.AsSpan<long>().Slice(r * columns, columns))
                {
                    last = Math.Max(last, d);
                }
                output.WriteLine($"  [{r}] documents in row: {last + 1}");
            }
        }
    }
}

/// <summary>Cuts rows of seq_len tokens from the packed stream, with one token of look-ahead for the last label.</summary>
internal sealed class ClmBatchBuilder : IBatchBuilder
{
    private readonly BatchingContext _context;
    private readonly bool _pack;
    private readonly RowBatchWriter _rows;
    private readonly TokenPacker _packer;

    public ClmBatchBuilder(BatchingContext context, bool pack)
    {
        _context = context;
        _pack = pack;
        _rows = new RowBatchWriter(CausalLanguageModelingTask.TaskName, context.BatchSize, context.SequenceLength, context.Tokenizer.Special.Pad, context.FirstBatchSequence, boundaries: true);
        _packer = new TokenPacker(context.Tokenizer.Special.Sep);
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        _packer.Add(document);
        // A row needs seq_len tokens and the one after them (the last label).
        while (_packer.Pending > _context.SequenceLength)
        {
            TakeRow(_context.SequenceLength, completed);
        }
        if (!_pack)
        {
            Flush(completed);
        }
    }

    public void Complete(List<TensorBatch> completed)
    {
        Flush(completed);
        if (_rows.Rows > 0)
        {
            completed.Add(Finish());
        }
    }

    /// <summary>Takes what is pending as a last, shorter row. A lone token left is only the previous row's last label.</summary>
    private void Flush(List<TensorBatch> completed)
    {
        if (_packer.Pending > 1)
        {
            TakeRow(_packer.Pending, completed);
        }
        else if (_packer.Pending == 1)
        {
            _packer.Drop(1);
        }
    }

    private void TakeRow(int length, List<TensorBatch> completed)
    {
        ReadOnlySpan<PackedToken> tokens = _packer.Tokens;
        int row = _rows.Rows;
        _rows.AppendPackedRow(tokens[..length]);
        Span<long> labels = _rows.TargetRow(TaskTensors.Labels, TensorDType.I64, row, _context.SequenceLength, TaskTensors.IgnoreIndex);
        for (int i = 0; i < length; i++)
        {
            bool next = i + 1 < tokens.Length && tokens[i + 1].Document == tokens[i].Document;
            labels[i] = next ? tokens[i + 1].Id : TaskTensors.IgnoreIndex;
        }
        _rows.Consumed(_packer, length);
        if (_rows.IsFull)
        {
            completed.Add(Finish());
        }
    }

    private TensorBatch Finish() => _rows.Take();
}
