using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Core.Tasks;

/// <summary>Whether a task trains a model or runs one over a corpus and writes a row per document.</summary>
public enum TaskMode
{
    /// <summary>Batches carry targets; the device optimizes a loss.</summary>
    Train,

    /// <summary>Batches carry inputs only; the device writes one result row per input document.</summary>
    Infer,
}

/// <summary>A task plugin: how token streams become fixed-shape batches. Plugins live in <c>tasks/</c>.</summary>
/// <remarks>
/// A plugin is one sealed class with a public parameterless constructor. The console finds it by reflection,
/// so adding a task needs no edit to the services. This is the batch side, which needs Core alone: a loader never loads
/// a model library. The device side of a task (its model and loss) is a class of its own implementing the Device
/// service's <c>IDeviceTask</c> for the same task name, in the task folder's <c>Device/</c> subfolder.
/// </remarks>
public interface ITrainingTask
{
    /// <summary>The name used on the command line (<c>--task mlm</c>).</summary>
    string Name { get; }

    /// <summary>One line for <c>--help</c>.</summary>
    string Description { get; }

    /// <summary>Train or infer.</summary>
    TaskMode Mode { get; }

    /// <summary>Task-specific settings (<c>--set key=value</c> or their flags), each declared once: for <c>--help</c>, validation and typed reads.</summary>
    IReadOnlyList<TaskOption> Options { get; }

    /// <summary>Makes the stateful, single-threaded builder that turns tokenized documents into batches.</summary>
    IBatchBuilder CreateBatchBuilder(BatchingContext context);

    /// <summary>Whether the task reads the documents' labels, and how many each may have.</summary>
    LabelKind Labels => LabelKind.None;

    /// <summary>
    /// Special tokens the task needs beyond the tokenizer's own (T5's <c>&lt;extra_id_0&gt;</c> …). The tokenizer
    /// layer uses the vocabulary's id where it has the token and appends a new id after the vocabulary where it has not.
    /// </summary>
    IReadOnlyList<string> AddedSpecialTokens => [];

    /// <summary>The tensors every batch carries, with their dtypes and shapes: the contract suite checks batches against it.</summary>
    IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context);

    /// <summary>Writes a human-readable view of a batch (used by <c>streamloader inspect</c>).</summary>
    void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows) =>
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
}

/// <summary>Turns an ordered stream of tokenized documents into batches. Not thread-safe: the batcher drives one per stream.</summary>
public interface IBatchBuilder
{
    /// <summary>Consumes one document and appends every batch it completes to <paramref name="completed"/>.</summary>
    /// <remarks>The builder copies what it needs; the caller disposes <paramref name="document"/> afterwards.</remarks>
    void Add(TokenizedDocument document, List<TensorBatch> completed);

    /// <summary>At end of stream, appends the final partial batch (padded to full shape) if any rows are pending.</summary>
    void Complete(List<TensorBatch> completed);
}

/// <summary>Whether a task reads labels.</summary>
public enum LabelKind
{
    /// <summary>Self-supervised: labels are ignored.</summary>
    None,

    /// <summary>Exactly one label per document (softmax).</summary>
    Single,

    /// <summary>Any number of labels per document (sigmoid per label).</summary>
    Multi,
}

/// <summary>One tensor a task's batches carry: its name, dtype and shape (<c>[batch, seq]</c> and the like).</summary>
public sealed record TensorSpec(string Name, TensorDType DType, int[] Shape)
{
    /// <summary>"input_ids:I64[8,128]".</summary>
    public override string ToString() => $"{Name}:{TensorDTypes.WireName(DType)}[{string.Join(',', Shape)}]";
}
