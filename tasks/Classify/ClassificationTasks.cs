using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Classify;

/// <summary>Single-label classification: one label per document, a softmax head.</summary>
/// <remarks>
/// Label names come from <c>--labels</c> or from the data. Made-With-ML is the worked example:
/// <c>--source dataset.csv --text-column title,description --label-column tag</c>.
/// </remarks>
public sealed class ClassificationTask : ITrainingTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "classify";

    public string Name => TaskName;

    public string Description => "Single-label classification: [CLS] text [SEP] rows, one label per document, softmax; held-out accuracy and F1 beside baselines.";

    public TaskMode Mode => TaskMode.Train;

    public LabelKind Labels => LabelKind.Single;

    public IReadOnlyList<TaskOption> Options { get; } = [];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context) => ClassifierBatchBuilder.Describe(context, multiLabel: false);

    public IBatchBuilder CreateBatchBuilder(BatchingContext context) => new ClassifierBatchBuilder(context, Name, multiLabel: false);

    /// <summary>The tokens a classifier's rows are made of: <c>[CLS] text [SEP]</c>, padded.</summary>
    internal static void RequireRowTokens(string task, BatchingContext context) => TaskTokens.Require(task, context.Tokenizer,
        ("a start token (bos_token, [CLS], <s>)", context.Tokenizer.Special.Cls), ("a separator or end token (eos_token, [SEP], </s>)", context.Tokenizer.Special.Sep), ("a padding token", context.Tokenizer.Special.Pad));

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows) => ClassifierText.Render(batch, tokenizer, output, maxRows);
}

/// <summary>Multi-label classification: any number of labels per document, a multi-hot target, a sigmoid and BCE per label.</summary>
/// <remarks>
/// Labels come from a column or field (comma-separated names or ids, or a list); names from <c>--labels FILE</c> or the
/// source's schema. GoEmotions is the worked example: <c>--source train.tsv --columns text,labels,id --labels labels.txt</c>.
/// </remarks>
public sealed class MultiLabelClassificationTask : ITrainingTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "multilabel";

    public string Name => TaskName;

    public string Description => "Multi-label classification: a multi-hot target per document, a sigmoid per label; held-out micro/macro-F1 beside baselines.";

    public TaskMode Mode => TaskMode.Train;

    public LabelKind Labels => LabelKind.Multi;

    public IReadOnlyList<TaskOption> Options { get; } = [MultiLabelOptions.Threshold];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context) => ClassifierBatchBuilder.Describe(context, multiLabel: true);

    public IBatchBuilder CreateBatchBuilder(BatchingContext context) => new ClassifierBatchBuilder(context, Name, multiLabel: true);

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows) => ClassifierText.Render(batch, tokenizer, output, maxRows);
}

/// <summary>The inspect view of a classifier batch: each row's text and its label names.</summary>
internal static class ClassifierText
{
    public static void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        if (!batch.Metadata.TryGetValue(BatchMetadataKeys.LabelNames, out string? text) || !batch.TryGet(TaskTensors.Labels, out TensorBuffer labels))
        {
            return;
        }
        LabelSet names = LabelSet.FromMetadata(text);
        for (int r = 0; r < Math.Min(batch.RowCount, maxRows); r++)
        {
            IEnumerable<string> chosen = labels.DType == TensorDType.F32
                ? Enumerable.Range(0, names.Count).Where(k => labels.AsSpan<float>()[(r * names.Count) + k] > 0.5f).Select(k => names.Names[k])
                : [names.Names[(int)labels.AsSpan<long>()[r]]];
            output.WriteLine($"  [{r}] labels: {string.Join(", ", chosen)}");
        }
        if (batch.Metadata.TryGetValue(BatchMetadataKeys.Split, out string? split))
        {
            output.WriteLine($"  split: {split}");
        }
    }
}
