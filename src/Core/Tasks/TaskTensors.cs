namespace StreamLoader.Core.Tasks;

/// <summary>The tensor names and label conventions the tasks and the device models share (docs/WIRE.md lists them).</summary>
public static class TaskTensors
{
    /// <summary>The label of a position or row that carries no target (PyTorch's <c>ignore_index</c>).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>Token ids, int64 <c>[batch, seq]</c>, padded with the tokenizer's [PAD].</summary>
    public const string InputIds = "input_ids";

    /// <summary>1 on real tokens, 0 on padding, int64 <c>[batch, seq]</c>.</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>Targets: token ids (-100 where none), a class index per row, or a multi-hot row.</summary>
    public const string Labels = "labels";

    /// <summary>Per-row positions that restart at each packed document, int64 <c>[batch, seq]</c>.</summary>
    public const string PositionIds = "position_ids";

    /// <summary>Which packed document of its row each token belongs to (0, 1, …; -1 on padding), int64 <c>[batch, seq]</c>.</summary>
    public const string DocumentIds = "document_ids";

    /// <summary>An encoder-decoder's decoder input: the targets shifted right behind a start token.</summary>
    public const string DecoderInputIds = "decoder_input_ids";

    /// <summary>
    /// Rows of one document: the part of its source the row's document came from (<see cref="Documents.Document.SourcePart"/>:
    /// its file, or a Parquet row group), int64 <c>[batch]</c>, -1 on padding rows.
    /// </summary>
    public const string SourcePart = "source_part";

    /// <summary>
    /// Rows of one document: the document's position in that part (<see cref="Documents.Document.SourceOrdinal"/>), int64
    /// <c>[batch]</c>, -1 on padding rows. With <see cref="SourcePart"/> it names the record whatever the rank, shuffle or resume.
    /// </summary>
    public const string SourceOrdinal = "source_ordinal";

    /// <summary>Inference: each row's document's token count before it was cut to the row, int32 <c>[batch]</c>, 0 on padding rows.</summary>
    public const string TokenCount = "token_count";

    /// <summary>The provenance tensors of a task whose rows each hold (a window of) one document, in the order batches carry them.</summary>
    public static TensorSpec[] Provenance(int batchSize) =>
    [
        new(SourcePart, Tensors.TensorDType.I64, [batchSize]),
        new(SourceOrdinal, Tensors.TensorDType.I64, [batchSize]),
    ];
}
