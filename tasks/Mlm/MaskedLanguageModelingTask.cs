using System.Globalization;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Mlm;

/// <summary>Masked language modelling, BERT-style: [CLS] window [SEP] rows, 15% of tokens chosen, 80/10/10 corruption.</summary>
/// <remarks>
/// Batches carry <c>input_ids</c>, <c>attention_mask</c> and <c>labels</c>, all int64 <c>[batch, seq]</c>; packed
/// (<c>--pack true</c>) also <c>position_ids</c> and <c>document_ids</c>.
/// </remarks>
public sealed class MaskedLanguageModelingTask : ITrainingTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "mlm";

    public string Name => TaskName;

    public string Description => "Masked language modelling (BERT): mask 15% of tokens (80% [MASK], 10% random, 10% kept) and predict them.";

    public TaskMode Mode => TaskMode.Train;

    /// <summary>The <c>mask_probability</c> setting.</summary>
    public static readonly TaskOption<double> MaskProbability = TaskOption.Number("mask_probability", 0.15, 0, 1, "Chance that a non-special token is chosen for prediction.", "--mask-prob");

    /// <summary>The <c>pack</c> setting.</summary>
    public static readonly TaskOption<bool> Pack = TaskOption.Boolean("pack", false, "Pack short documents into rows ([CLS] doc [SEP] doc [SEP] …) with per-document positions, instead of one document per row.", "--pack");

    public IReadOnlyList<TaskOption> Options { get; } = [MaskProbability, Pack];

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context)
    {
        int[] shape = [context.BatchSize, context.SequenceLength];
        List<TensorSpec> specs = [new(TaskTensors.InputIds, TensorDType.I64, shape), new(TaskTensors.AttentionMask, TensorDType.I64, shape)];
        if (Pack.Read(context.Settings))
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
        double probability = MaskProbability.Read(context.Settings);
        TaskTokens.Require("mlm", context.Tokenizer, "A causal model's tokenizer (Llama 3's, Qwen3's) trains with --task clm.", ("a mask token (mask_token, [MASK], <mask>)", context.Tokenizer.Special.Mask),
            ("a start token (bos_token, [CLS], <s>)", context.Tokenizer.Special.Cls), ("a separator or end token (eos_token, [SEP], </s>)", context.Tokenizer.Special.Sep),
            ("a padding token", context.Tokenizer.Special.Pad));
        return new MlmBatchBuilder(context, probability, Pack.Read(context.Settings));
    }

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        BatchText.RenderTokenTargets(batch, tokenizer, output, maxRows);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  masked positions: {batch.Metadata.GetValueOrDefault("masked_positions", "?")}"));
    }
}
