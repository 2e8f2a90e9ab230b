using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Tasks.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace StreamLoader.Examples.BigramTaskPlugin;

/// <summary>
/// A toy task from outside the repository's <c>tasks/</c>: each row is a window of a document, and the model predicts
/// every token from the one before it (a bigram model). One class, both sides: batches and model.
/// </summary>
public sealed class BigramTask : ITrainingTask, IDeviceTask
{
    public string Name => "bigram";

    string IDeviceTask.TaskName => Name;

    public string Description => "Example plugin: predict each token from the one before it (a bigram model), from examples/BigramTaskPlugin.";

    public TaskMode Mode => TaskMode.Train;

    public IReadOnlyList<TaskOption> Options { get; } = [];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context) =>
    [
        new(TaskTensors.InputIds, TensorDType.I64, [context.BatchSize, context.SequenceLength]),
        new(TaskTensors.AttentionMask, TensorDType.I64, [context.BatchSize, context.SequenceLength]),
        new(TaskTensors.Labels, TensorDType.I64, [context.BatchSize, context.SequenceLength]),
    ];

    public IBatchBuilder CreateBatchBuilder(BatchingContext context) => new Builder(context, Name);

    public ITaskModel CreateModel(ModelContext context) => new BigramModel(context.Vocabulary.Size);

    /// <summary>Windows of seq_len tokens; labels are the next token inside the window, -100 at its end and on padding.</summary>
    private sealed class Builder(BatchingContext context, string task) : IBatchBuilder
    {
        private readonly RowBatchWriter _rows = new(task, context.BatchSize, context.SequenceLength, context.Tokenizer.Special.Pad, context.FirstBatchSequence);

        public void Add(TokenizedDocument document, List<TensorBatch> completed)
        {
            foreach ((int offset, int length) in TokenWindows.Cut(document.Count, context.SequenceLength))
            {
                int row = _rows.Rows;
                _rows.AppendRow(document.Ids.Slice(offset, length));
                Span<long> targets = _rows.TargetRow(TaskTensors.Labels, TensorDType.I64, row, context.SequenceLength, TaskTensors.IgnoreIndex);
                for (int i = 0; i + 1 < length; i++)
                {
                    targets[i] = document.Ids[offset + i + 1];
                }
                _rows.MarkPosition(document, offset + length);
                if (_rows.IsFull)
                {
                    completed.Add(_rows.Take());
                }
            }
        }

        public void Complete(List<TensorBatch> completed)
        {
            if (_rows.Rows > 0)
            {
                completed.Add(_rows.Take());
            }
        }
    }

    /// <summary>A low-rank bigram table: each token's embedding, projected to next-token scores.</summary>
    private sealed class BigramModel : Module, ITaskModel
    {
        private readonly Embedding embedding;
        private readonly Linear scores;

        public BigramModel(int vocabulary)
            : base(nameof(BigramModel))
        {
            embedding = Embedding(vocabulary, 64);
            scores = Linear(64, vocabulary);
            RegisterComponents();
        }

        public Module Module => this;

        public Tensor? ComputeLoss(DeviceBatch batch)
        {
            Tensor labels = batch[TaskTensors.Labels];
            return batch.RowsWithTargets(TaskTensors.Labels).Length > 0 // read on the host: no wait for the device
                ? functional.cross_entropy(scores.call(embedding.call(batch[TaskTensors.InputIds])).flatten(0, 1), labels.reshape(-1))
                : null;
        }
    }
}
