using System.Globalization;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Core.Tasks;

/// <summary>What a batch builder needs to know: tokenizer, shapes, seed and task settings. Validated at construction.</summary>
public sealed class BatchingContext
{
    public BatchingContext(ITextTokenizer tokenizer, int sequenceLength, int batchSize, int seed, TaskSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (sequenceLength < 8)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "The sequence length must be at least 8.");
        }
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        }
        Tokenizer = tokenizer;
        SequenceLength = sequenceLength;
        BatchSize = batchSize;
        Seed = seed;
        Settings = settings ?? TaskSettings.Empty;
    }

    /// <summary>The tokenizer whose ids the documents carry.</summary>
    public ITextTokenizer Tokenizer { get; }

    /// <summary>Tokens per row, special tokens included.</summary>
    public int SequenceLength { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Seed for any randomness (masking, span corruption).</summary>
    public int Seed { get; }

    /// <summary>Task-specific settings.</summary>
    public TaskSettings Settings { get; }

    /// <summary>Index of the first batch the builder makes: 0, or where a resumed run continues the numbering.</summary>
    public long FirstBatchSequence { get; init; }

    /// <summary>The label names of a classification task (<see cref="ITrainingTask.Labels"/>); null for the others.</summary>
    public LabelSet? Labels { get; init; }

    /// <summary>The documents held out for evaluation: a builder that honours it sends them in batches marked <c>split=eval</c>.</summary>
    public HeldOutSplit HeldOut { get; init; } = HeldOutSplit.None;

    /// <summary>Documents a builder skipped or cut, by reason; the run summary reports them.</summary>
    public TaskCounters Counters { get; } = new();

    /// <summary>The label names, or an error naming the task that needs them.</summary>
    public LabelSet RequireLabels(string task) =>
        Labels ?? throw new InvalidOperationException($"Task '{task}' needs label names; pass --labels FILE (or a list) or a source whose documents carry labels.");
}

/// <summary>Thread-safe counts of what a batch builder skipped or changed ("no_label": 3, "truncated": 12).</summary>
public sealed class TaskCounters
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="count"/> to <paramref name="reason"/>.</summary>
    public void Add(string reason, long count = 1) => _counts.AddOrUpdate(reason, count, (_, c) => c + count);

    /// <summary>The counts so far, by reason.</summary>
    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
}

/// <summary>Task-specific <c>key=value</c> settings with typed, validated reads.</summary>
public sealed class TaskSettings
{
    private readonly Dictionary<string, string> _values;

    public TaskSettings(IReadOnlyDictionary<string, string> values)
    {
        _values = new Dictionary<string, string>(values, StringComparer.Ordinal);
    }

    /// <summary>No settings.</summary>
    public static TaskSettings Empty { get; } = new(new Dictionary<string, string>());

    /// <summary>All keys given.</summary>
    public IReadOnlyCollection<string> Keys => _values.Keys;

    /// <summary>Parses <c>key=value</c> pairs as given on the command line.</summary>
    public static TaskSettings Parse(IEnumerable<string> pairs)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Task setting '{pair}' is not of the form key=value.");
            }
            values[pair[..eq].Trim().Replace('-', '_')] = pair[(eq + 1)..].Trim();
        }
        return new TaskSettings(values);
    }

    /// <summary>Returns a copy with <paramref name="key"/> set, unless it is already set.</summary>
    public TaskSettings WithDefault(string key, string value)
    {
        var copy = new Dictionary<string, string>(_values, StringComparer.Ordinal);
        copy.TryAdd(key, value);
        return new TaskSettings(copy);
    }

    /// <summary>The value given for <paramref name="key"/>, as typed; read typed values with <see cref="TaskOption{T}.Read"/>.</summary>
    public bool TryGetText(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text) => _values.TryGetValue(key, out text);

    /// <summary>
    /// Throws a <see cref="FormatException"/> if a key is not one the task declares, so typos fail loudly, or if a value is
    /// not one its option accepts, so a bad value fails before the run starts.
    /// </summary>
    public void ValidateAgainst(ITrainingTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        foreach (string key in _values.Keys)
        {
            if (!task.Options.Any(o => o.Key == key))
            {
                string allowed = task.Options.Count == 0 ? "none" : string.Join(", ", task.Options.Select(o => o.Key));
                throw new FormatException($"Task '{task.Name}' has no setting '{key}'. Its settings: {allowed}.");
            }
        }
        foreach (TaskOption option in task.Options)
        {
            option.Validate(this);
        }
    }
}
