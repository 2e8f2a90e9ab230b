using System.Globalization;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Training;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Mlm;

/// <summary>Masked language modelling, BERT-style: [CLS] window [SEP] rows, 15% of tokens chosen, 80/10/10 corruption.</summary>
/// <remarks>
/// Batches carry <c>input_ids</c>, <c>attention_mask</c> and <c>labels</c>, all int64 <c>[batch, seq]</c>; packed
/// (<c>--pack true</c>) also <c>position_ids</c> and <c>document_ids</c>.
/// </remarks>
public sealed class MaskedLanguageModelingTask : ITrainingTask, IDeviceTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "mlm";

    public string Name => TaskName;

    public string Description => "Masked language modelling (BERT): mask 15% of tokens (80% [MASK], 10% random, 10% kept) and predict them.";

    public TaskMode Mode => TaskMode.Train;

    public IReadOnlyList<TaskOptionInfo> Options { get; } =
    [
        new("mask_probability", "0.15", "Chance that a non-special token is chosen for prediction.", "--mask-prob"),
        new("pack", "false", "Pack short documents into rows ([CLS] doc [SEP] doc [SEP] …) with per-document positions, instead of one document per row.", "--pack"),
    ];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context)
    {
        int[] shape = [context.BatchSize, context.SequenceLength];
        List<TensorSpec> specs = [new(TaskTensors.InputIds, TensorDType.I64, shape), new(TaskTensors.AttentionMask, TensorDType.I64, shape)];
        if (context.Settings.GetBoolean("pack", false))
        {
            specs.Add(new(TaskTensors.PositionIds, TensorDType.I64, shape));
            specs.Add(new(TaskTensors.DocumentIds, TensorDType.I64, shape));
        }
        else
        {
            specs.AddRange(TaskTensors.Provenance(context.BatchSize));
        }
        specs.Add(new(TaskTensors.Labels, TensorDType.I64, shape));
        return specs;
    }

    public IBatchBuilder CreateBatchBuilder(BatchingContext context)
    {
        double probability = context.Settings.GetDouble("mask_probability", 0.15, 0.0, 1.0);
        TaskTokens.Require("mlm", context.Tokenizer, "A causal model's tokenizer (Llama 3's, Qwen3's) trains with --task clm.", ("a mask token (mask_token, [MASK], <mask>)", context.Tokenizer.Special.Mask),
            ("a start token (bos_token, [CLS], <s>)", context.Tokenizer.Special.Cls), ("a separator or end token (eos_token, [SEP], </s>)", context.Tokenizer.Special.Sep),
            ("a padding token", context.Tokenizer.Special.Pad));
        return new MlmBatchBuilder(context, probability, context.Settings.GetBoolean("pack", false));
    }

    public ITaskModel CreateModel(ModelContext context) =>
        context.Pretrained is null ? new MlmModel(EncoderConfig.Preset(context.ModelSize, context.Vocabulary.Size, context.SequenceLength)) : PretrainedLm.Create(context, masked: true);

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        BatchText.RenderTokenTargets(batch, tokenizer, output, maxRows);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  masked positions: {batch.Metadata.GetValueOrDefault("masked_positions", "?")}"));
    }
}
