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

    public IReadOnlyList<TaskOption> Options { get; } = [.. InferenceBatching.Options, MultiLabelOptions.Threshold];

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
