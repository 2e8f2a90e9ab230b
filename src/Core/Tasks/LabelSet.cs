using System.Globalization;

namespace StreamLoader.Core.Tasks;

/// <summary>
/// The label names of a classification task, in index order. A document's label is matched by name first, then, when
/// it is a whole number below the count, as an index (GoEmotions writes ids, its names come from labels.txt).
/// </summary>
public sealed class LabelSet
{
    private readonly Dictionary<string, int> _index;

    public LabelSet(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
        {
            throw new ArgumentException("A label set needs at least one label.", nameof(names));
        }
        _index = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (!_index.TryAdd(names[i], i))
            {
                throw new ArgumentException($"The label '{names[i]}' is listed twice.", nameof(names));
            }
        }
        Names = names.ToArray();
    }

    /// <summary>The names, index order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Number of labels.</summary>
    public int Count => Names.Count;

    /// <summary>The index of <paramref name="label"/> (a name, or an index written as a number), or -1.</summary>
    public int IndexOf(string label)
    {
        string trimmed = label.Trim();
        if (_index.TryGetValue(trimmed, out int index))
        {
            return index;
        }
        return int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number < Count ? number : -1;
    }

    /// <summary>The names as one metadata value: names joined by a newline (names never hold one).</summary>
    public string ToMetadata() => string.Join('\n', Names);

    /// <summary>Reads <see cref="ToMetadata"/>.</summary>
    public static LabelSet FromMetadata(string text) => new(text.Split('\n'));

    /// <summary>
    /// Reads label names from a file (one per line, as GoEmotions' labels.txt) or a comma-separated list given inline.
    /// </summary>
    public static LabelSet Parse(string fileOrList)
    {
        string[] names = File.Exists(fileOrList)
            ? File.ReadAllLines(fileOrList).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray()
            : fileOrList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0)
        {
            throw new FormatException($"--labels {fileOrList}: no label names (give a file with one name per line, or names separated by commas).");
        }
        return new LabelSet(names);
    }

    /// <summary>
    /// Names found in the data: sorted as numbers when every one is a whole number (then index i is the label "i"),
    /// else in ordinal order.
    /// </summary>
    public static LabelSet FromObserved(IEnumerable<string> observed)
    {
        string[] distinct = observed.Select(l => l.Trim()).Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        if (distinct.Length > 0 && distinct.All(l => int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            int max = distinct.Max(l => int.Parse(l, CultureInfo.InvariantCulture));
            return new LabelSet(Enumerable.Range(0, max + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray());
        }
        Array.Sort(distinct, StringComparer.Ordinal);
        return new LabelSet(distinct);
    }
}
