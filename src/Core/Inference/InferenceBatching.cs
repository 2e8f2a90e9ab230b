using StreamLoader.Core.Tasks;

namespace StreamLoader.Core.Inference;

/// <summary>How inference forms its batches, read once from the task's settings.</summary>
public sealed record InferenceBatching
{
    /// <summary>The <c>batching</c> values.</summary>
    public const string Sorted = "sorted";

    /// <inheritdoc cref="Sorted"/>
    public const string Fixed = "fixed";

    /// <summary>Default documents per sort window (and per block a rank is dealt).</summary>
    public const int DefaultWindow = 2048;

    /// <summary>Default documents timed in both layouts.</summary>
    public const int DefaultCompare = 256;

    /// <summary><see cref="Sorted"/> (CrossFit's sorted-sequence batching) or <see cref="Fixed"/>.</summary>
    public required string Layout { get; init; }

    /// <summary>Sorted: tokens a batch may hold, rows × its longest row.</summary>
    public required int MaxTokensPerBatch { get; init; }

    /// <summary>Documents sorted together: consecutive documents of one part of the source.</summary>
    public required int Window { get; init; }

    /// <summary>The first this many documents are also batched the other way, for the device to time both.</summary>
    public required int CompareDocuments { get; init; }

    /// <summary>Fixed: rows per batch.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Tokens per row at most, [CLS] and [SEP] included.</summary>
    public required int SequenceLength { get; init; }

    /// <summary>Reads the settings; a bad value is a <see cref="FormatException"/> naming it.</summary>
    public static InferenceBatching From(BatchingContext context)
    {
        TaskSettings settings = context.Settings;
        string layout = settings.GetString("batching", Sorted).ToLowerInvariant();
        if (layout is not (Sorted or Fixed))
        {
            throw new FormatException($"Task setting batching={layout} must be {Sorted} or {Fixed}.");
        }
        int budget = settings.GetInt32("max_tokens_per_batch", 0, 0, 1 << 26);
        return new InferenceBatching
        {
            Layout = layout,
            MaxTokensPerBatch = budget == 0 ? context.BatchSize * context.SequenceLength : Math.Max(budget, context.SequenceLength),
            Window = settings.GetInt32("sort_window", DefaultWindow, 1, 1 << 22),
            CompareDocuments = settings.GetInt32("compare_fixed", DefaultCompare, 0, int.MaxValue),
            BatchSize = context.BatchSize,
            SequenceLength = context.SequenceLength,
        };
    }
}
