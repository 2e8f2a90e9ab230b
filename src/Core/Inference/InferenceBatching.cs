using StreamLoader.Core.Tasks;

namespace StreamLoader.Core.Inference;

/// <summary>How inference forms its batches, read once from the task's settings.</summary>
public sealed record InferenceBatching
{
    /// <summary>The <c>batching</c> values.</summary>
    public const string Sorted = "sorted";

    /// <inheritdoc cref="Sorted"/>
    public const string Fixed = "fixed";

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

    /// <summary>The <c>batching</c> setting.</summary>
    public static readonly TaskOption<string> LayoutOption = TaskOption.Choice("batching", Sorted, [Sorted, Fixed],
        "How rows are batched: 'sorted' sorts each window of documents by length, longest first, and fills batches up to --max-tokens-per-batch, each trimmed to its longest row (CrossFit); 'fixed' keeps input order in --batch-size rows of --seq-len.", "--batching");

    /// <summary>The <c>max_tokens_per_batch</c> setting.</summary>
    public static readonly TaskOption<int> MaxTokensOption = TaskOption.Integer("max_tokens_per_batch", 0, 0, 1 << 26,
        "Sorted batching: tokens a batch may hold (rows x its longest row); 0 for --batch-size x --seq-len, the same memory as a fixed batch.", "--max-tokens-per-batch");

    /// <summary>The <c>sort_window</c> setting.</summary>
    public static readonly TaskOption<int> WindowOption = TaskOption.Integer("sort_window", 2048, 1, 1 << 22,
        "Consecutive documents sorted together; ranks are dealt whole windows, so every world size forms the same batches.", "--sort-window");

    /// <summary>The <c>compare_fixed</c> setting.</summary>
    public static readonly TaskOption<int> CompareOption = TaskOption.Integer("compare_fixed", 256, 0, int.MaxValue,
        "The first this many documents are also run in the other layout, timed side by side for the summary's padding and speed-up figures; 0 skips it.", "--compare-fixed");

    /// <summary>The settings that decide inference batches, for an inference task's <see cref="ITrainingTask.Options"/>.</summary>
    public static IReadOnlyList<TaskOption> Options { get; } = [LayoutOption, MaxTokensOption, WindowOption, CompareOption];

    /// <summary>Reads the settings; a bad value is a <see cref="FormatException"/> naming it.</summary>
    public static InferenceBatching From(BatchingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        TaskSettings settings = context.Settings;
        int budget = MaxTokensOption.Read(settings);
        return new InferenceBatching
        {
            Layout = LayoutOption.Read(settings),
            MaxTokensPerBatch = budget == 0 ? context.BatchSize * context.SequenceLength : Math.Max(budget, context.SequenceLength),
            Window = WindowOption.Read(settings),
            CompareDocuments = CompareOption.Read(settings),
            BatchSize = context.BatchSize,
            SequenceLength = context.SequenceLength,
        };
    }
}
