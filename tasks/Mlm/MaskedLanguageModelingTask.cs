using System.Globalization;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models;
using StreamLoader.Device.Training;
using TorchSharp;

namespace StreamLoader.Tasks.Mlm;

/// <summary>Masked language modelling, BERT-style: [CLS] window [SEP] rows, 15% of tokens chosen, 80/10/10 corruption.</summary>
/// <remarks>Batches carry <c>input_ids</c>, <c>attention_mask</c> and <c>labels</c>, all int64 <c>[batch, seq]</c>.</remarks>
public sealed class MaskedLanguageModelingTask : ITrainingTask, IDeviceTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "mlm";

    public string Name => TaskName;

    public string Description => "Masked language modelling (BERT): mask 15% of tokens (80% [MASK], 10% random, 10% kept) and predict them.";

    public TaskMode Mode => TaskMode.Train;

    public IReadOnlyList<TaskOptionInfo> Options { get; } =
    [
        new("mask_probability", "0.15", "Chance that a non-special token is chosen for prediction (also --mask-prob)."),
    ];

    public IBatchBuilder CreateBatchBuilder(BatchingContext context)
    {
        double probability = context.Settings.GetDouble("mask_probability", 0.15, 0.0, 1.0);
        if (context.Tokenizer.Special.Mask < 0)
        {
            throw new InvalidOperationException($"The tokenizer {context.Tokenizer.Name} has no [MASK] token.");
        }
        return new MlmBatchBuilder(context, probability);
    }

    public ITaskModel CreateModel(ModelContext context)
    {
        torch.random.manual_seed(context.Seed);
        var config = EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength);
        var model = new MlmModel(config);
        model.to(context.Device);
        return model;
    }

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        if (!batch.TryGet("labels", out TensorBuffer labels))
        {
            return;
        }
        int columns = labels.Shape[1];
        Span<long> values = labels.AsSpan<long>();
        for (int r = 0; r < Math.Min(labels.Shape[0], maxRows); r++)
        {
            var targets = new List<string>();
            for (int c = 0; c < columns; c++)
            {
                long label = values[(r * columns) + c];
                if (label != BertMasking.IgnoreIndex)
                {
                    targets.Add($"{c}:{tokenizer.IdToToken((int)label)}");
                }
            }
            output.WriteLine($"  [{r}] targets ({targets.Count}): {BatchText.Escape(string.Join(' ', targets))}");
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  masked positions: {batch.Metadata.GetValueOrDefault("masked_positions", "?")}"));
    }
}
