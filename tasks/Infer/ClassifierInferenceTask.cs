using StreamLoader.Core.Inference;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Infer;

/// <summary>
/// Classifier inference over a corpus, as NVIDIA NeMo Curator's classifiers run it: a trained classify or multilabel
/// checkpoint labels every document, in batches sorted by length with a token budget (CrossFit's sorted-sequence
/// loader), and the results come back as one row per input document, in input order (<c>streamloader infer</c>).
/// </summary>
/// <remarks>
/// The batcher side is this class: rows of <c>[CLS] text [SEP]</c>, cut at the checkpoint's sequence length, each
/// carrying its document's place in the source. The device side is the checkpoint's own task's model, which the
/// console loads and runs through <c>IPredictingModel</c>.
/// </remarks>
public sealed class ClassifierInferenceTask : ITrainingTask
{
    /// <summary>The task's name.</summary>
    public const string TaskName = "infer";

    public string Name => TaskName;

    public string Description => "Classifier inference: run a classify or multilabel checkpoint over a corpus; one output row per document, in input order (streamloader infer).";

    public TaskMode Mode => TaskMode.Infer;

    public IReadOnlyList<TaskOptionInfo> Options { get; } =
    [
        new("batching", InferenceBatching.Sorted, "How rows are batched: 'sorted' sorts each window of documents by length, longest first, and fills batches up to --max-tokens-per-batch, each trimmed to its longest row (CrossFit); 'fixed' keeps input order in --batch-size rows of --seq-len.", "--batching"),
        new("max_tokens_per_batch", "0", "Sorted batching: tokens a batch may hold (rows x its longest row); 0 for --batch-size x --seq-len, the same memory as a fixed batch.", "--max-tokens-per-batch"),
        new("sort_window", InferenceBatching.DefaultWindow.ToString(System.Globalization.CultureInfo.InvariantCulture), "Consecutive documents sorted together; ranks are dealt whole windows, so every world size forms the same batches.", "--sort-window"),
        new("compare_fixed", InferenceBatching.DefaultCompare.ToString(System.Globalization.CultureInfo.InvariantCulture), "The first this many documents are also run in the other layout, timed side by side for the summary's padding and speed-up figures; 0 skips it.", "--compare-fixed"),
        new("threshold", "0.5", "Multi-label checkpoints: a label is written when its probability exceeds this.", "--threshold"),
    ];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context)
    {
        // Sorted batches vary in rows and length (-1): each is trimmed to its longest row.
        InferenceBatching batching = InferenceBatching.From(context);
        int rows = batching.Layout == InferenceBatching.Fixed ? context.BatchSize : -1;
        int length = batching.Layout == InferenceBatching.Fixed ? context.SequenceLength : -1;
        return
        [
            new(TaskTensors.InputIds, TensorDType.I64, [rows, length]),
            new(TaskTensors.AttentionMask, TensorDType.I64, [rows, length]),
            new(TaskTensors.SourcePart, TensorDType.I64, [rows]),
            new(TaskTensors.SourceOrdinal, TensorDType.I64, [rows]),
            new(TaskTensors.TokenCount, TensorDType.I32, [rows]),
        ];
    }

    public IBatchBuilder CreateBatchBuilder(BatchingContext context) => new InferenceBatchBuilder(context, InferenceBatching.From(context));

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        output.WriteLine($"  layout: {batch.Metadata.GetValueOrDefault(BatchMetadataKeys.Layout)}{(batch.Metadata.ContainsKey(BatchMetadataKeys.Comparison) ? " (comparison, not written)" : string.Empty)}, rows {batch.RowCount}, seq {batch.Metadata.GetValueOrDefault(BatchMetadataKeys.SequenceLength)}, ids {batch.Metadata.GetValueOrDefault(BatchMetadataKeys.RowIds)}");
        if (batch.Metadata.TryGetValue(BatchMetadataKeys.SkippedDocuments, out string? skipped))
        {
            output.WriteLine($"  skipped: {skipped}");
        }
    }
}
