namespace StreamLoader.Core.Tensors;

/// <summary>Metadata keys the services agree on. Every key travels in the frame's <c>__metadata__</c> (docs/WIRE.md).</summary>
public static class BatchMetadataKeys
{
    /// <summary>The document ordinal a resumed run should start from once this batch has been consumed.</summary>
    public const string ResumeOrdinal = "resume_ordinal";

    /// <summary>Tokens of the document at <see cref="ResumeOrdinal"/> already in this or earlier batches; a resumed run skips them.</summary>
    public const string ResumeOffset = "resume_offset";

    /// <summary>
    /// Split roles: the loader's stream position (its JSON) at <see cref="ResumeOrdinal"/>, so a device's checkpoint
    /// holds where the data it trained on ends, and a loader started with <c>--resume</c> from it continues there.
    /// </summary>
    public const string ResumePosition = "resume_position";

    /// <summary>Tokens per row.</summary>
    public const string SequenceLength = "seq_len";

    /// <summary>The tokenizer's identity (<c>wordpiece:vocab.txt</c>), see <see cref="Tokenization.VocabularyInfo"/>.</summary>
    public const string Tokenizer = "tokenizer";

    /// <summary>Size of the vocabulary the ids index.</summary>
    public const string VocabularySize = "vocab_size";

    /// <summary>The special ids, one key each (-1 where the tokenizer has none).</summary>
    public const string PadId = "pad_id";

    /// <inheritdoc cref="PadId"/>
    public const string UnknownId = "unk_id";

    /// <inheritdoc cref="PadId"/>
    public const string ClsId = "cls_id";

    /// <inheritdoc cref="PadId"/>
    public const string SepId = "sep_id";

    /// <inheritdoc cref="PadId"/>
    public const string MaskId = "mask_id";

    /// <summary>"eval" on batches of held-out documents: the device evaluates on them and does not train.</summary>
    public const string Split = "split";

    /// <summary>The value of <see cref="Split"/> on held-out batches.</summary>
    public const string EvalSplit = "eval";

    /// <summary>A classification task's label names, in index order, one per line.</summary>
    public const string LabelNames = "label_names";

    /// <summary>Each row's document id, as a JSON array of strings (padding rows have none), where a builder carries them (inference).</summary>
    public const string RowIds = "row_ids";

    /// <summary>
    /// Inference: the documents the batcher gave no row (no tokens), as a JSON array of <c>[part, ordinal, reason]</c>,
    /// on the batch that closes their window; a window with no row at all sends a batch of no rows to carry them.
    /// </summary>
    public const string SkippedDocuments = "skipped_documents";

    /// <summary>Inference: how the batch's rows were formed: <c>sorted</c> (by length, a token budget, trimmed) or <c>fixed</c>.</summary>
    public const string Layout = "layout";

    /// <summary>
    /// Inference: "true" on a batch of the other layout, built from the same documents so the device can time both
    /// side by side; its predictions are not written and it moves no watermark.
    /// </summary>
    public const string Comparison = "comparison";
}
