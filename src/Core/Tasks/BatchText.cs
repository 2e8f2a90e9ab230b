using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Core.Tasks;

/// <summary>Default text rendering of batches for <c>inspect</c>: decodes each row of <c>input_ids</c> up to its padding.</summary>
public static class BatchText
{
    public static void RenderInputRows(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        output.WriteLine($"batch {batch.Sequence} task={batch.Task} " + string.Join(" ", batch.Tensors.Select(t => $"{t.Name}:{TensorDTypes.WireName(t.DType)}{t.ShapeText}")));
        if (!batch.TryGet("input_ids", out TensorBuffer ids) || ids.Shape.Length != 2)
        {
            return;
        }
        int rows = ids.Shape[0];
        int cols = ids.Shape[1];
        Span<long> all = ids.AsSpan<long>();
        int[] row = new int[cols];
        for (int r = 0; r < Math.Min(rows, maxRows); r++)
        {
            int n = 0;
            for (int c = 0; c < cols; c++)
            {
                int id = (int)all[(r * cols) + c];
                if (id == tokenizer.Special.Pad)
                {
                    break;
                }
                row[n++] = id;
            }
            output.WriteLine($"  [{r}] ({n} tokens) {Escape(tokenizer.Decode(row.AsSpan(0, n)))}");
        }
    }

    /// <summary>Writes each row's token targets (<c>labels</c> <c>[batch, seq]</c>, -100 skipped) as position:token.</summary>
    public static void RenderTokenTargets(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        if (!batch.TryGet(TaskTensors.Labels, out TensorBuffer labels) || labels.Shape.Length != 2 || labels.DType != TensorDType.I64)
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
                if (label != TaskTensors.IgnoreIndex)
                {
                    targets.Add($"{c}:{tokenizer.IdToToken((int)label)}");
                }
            }
            output.WriteLine($"  [{r}] targets ({targets.Count}): {Escape(string.Join(' ', targets))}");
        }
    }

    /// <summary>Makes control characters visible so one row stays one line.</summary>
    public static string Escape(string text) => text.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
