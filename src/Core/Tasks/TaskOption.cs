using System.Globalization;

namespace StreamLoader.Core.Tasks;

/// <summary>
/// One task-specific setting, declared once: its key, its command-line flag, its default, the values it accepts and
/// its help. The console generates the flag and the help from it, checks every value before a run starts, and the
/// task reads the typed value with <see cref="TaskOption{T}.Read"/>: nothing about a setting is written twice.
/// </summary>
/// <remarks>
/// Declare options as static fields of the task (or of the shared code that reads them) and list them in
/// <see cref="ITrainingTask.Options"/>; tasks that share a flag share one declaration or at least its key.
/// </remarks>
public abstract class TaskOption
{
    private protected TaskOption(string key, string description, string? flag)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        Key = key;
        Description = description;
        Flag = flag;
    }

    /// <summary>The key used with <c>--set</c> (snake_case).</summary>
    public string Key { get; }

    /// <summary>What it controls.</summary>
    public string Description { get; }

    /// <summary>
    /// A command-line option the console generates for it (<c>--mask-prob</c>), or null for <c>--set</c> only. Tasks that
    /// share a flag must share its key.
    /// </summary>
    public string? Flag { get; }

    /// <summary>The default as it would be typed (<c>0.15</c>, <c>false</c>, <c>sorted</c>).</summary>
    public abstract string DefaultText { get; }

    /// <summary>The values it accepts, for help and errors ("a number from 0.01 to 0.5").</summary>
    public abstract string Accepts { get; }

    /// <summary>Its JSON Schema type: <c>number</c>, <c>integer</c>, <c>boolean</c> or <c>string</c>.</summary>
    public string TypeName => this switch
    {
        TaskOption<double> => "number",
        TaskOption<int> => "integer",
        TaskOption<bool> => "boolean",
        _ => "string",
    };

    /// <summary>Throws a <see cref="FormatException"/> naming the setting when its value in <paramref name="settings"/> is not one it accepts.</summary>
    public abstract void Validate(TaskSettings settings);

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static TaskOption<double> Number(string key, double defaultValue, double min, double max, string description, string? flag = null) =>
        new(key, defaultValue, Text(defaultValue), $"a number from {Text(min)} to {Text(max)}", description, flag,
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max ? v : null);

    /// <summary>A probability strictly between 0 and 1 (a threshold whose logit must be finite).</summary>
    public static TaskOption<double> Probability(string key, double defaultValue, string description, string? flag = null) =>
        new(key, defaultValue, Text(defaultValue), "a number strictly between 0 and 1", description, flag,
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v < 1 ? v : null);

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static TaskOption<int> Integer(string key, int defaultValue, int min, int max, string description, string? flag = null) =>
        new(key, defaultValue, Text(defaultValue), max == int.MaxValue ? $"an integer of at least {Text(min)}" : $"an integer from {Text(min)} to {Text(max)}", description, flag,
            text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max ? v : null);

    /// <summary>True or false (also 1/0, yes/no).</summary>
    public static TaskOption<bool> Boolean(string key, bool defaultValue, string description, string? flag = null) =>
        new(key, defaultValue, defaultValue ? "true" : "false", "true or false", description, flag,
            text => text.ToLowerInvariant() switch
            {
                "true" or "1" or "yes" => true,
                "false" or "0" or "no" => false,
                _ => (bool?)null,
            });

    /// <summary>One of <paramref name="choices"/> (case-insensitive; read in lower case).</summary>
    public static TaskOption<string> Choice(string key, string defaultValue, IReadOnlyList<string> choices, string description, string? flag = null) =>
        new(key, defaultValue, defaultValue, $"one of {string.Join(", ", choices)}", description, flag,
            text => choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase)));

    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A task setting of type <typeparamref name="T"/>; see <see cref="TaskOption"/>.</summary>
public sealed class TaskOption<T> : TaskOption
{
    private readonly Func<string, object?> _parse;

    internal TaskOption(string key, T defaultValue, string defaultText, string accepts, string description, string? flag, Func<string, object?> parse)
        : base(key, description, flag)
    {
        Default = defaultValue;
        DefaultText = defaultText;
        Accepts = accepts;
        _parse = parse;
    }

    /// <summary>The value when the setting is not given.</summary>
    public T Default { get; }

    public override string DefaultText { get; }

    public override string Accepts { get; }

    /// <summary>The value given in <paramref name="settings"/>, or <see cref="Default"/>; a value it does not accept throws naming the setting.</summary>
    public T Read(TaskSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.TryGetText(Key, out string? text))
        {
            return Default;
        }
        return _parse(text) is T value
            ? value
            : throw new FormatException($"Task setting {Key}={text}{(Flag is null ? string.Empty : $" ({Flag})")} must be {Accepts}.");
    }

    public override void Validate(TaskSettings settings) => _ = Read(settings);
}
