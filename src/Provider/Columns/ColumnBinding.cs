using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Columns;

/// <summary>
/// Which of a record's columns hold the text, the id and the labels, resolved once against the columns a file
/// actually has: the seam every tabular reader (CSV, Arrow, Parquet) shares, so they agree on joining and errors.
/// </summary>
public sealed class ColumnBinding
{
    private ColumnBinding(int[] text, int id, int label, IReadOnlyList<string> names, int[] keep, IReadOnlyList<string> keepNames)
    {
        TextColumns = text;
        IdColumn = id;
        LabelColumn = label;
        Names = names;
        KeepColumns = keep;
        _keepNames = keepNames;
        var used = new List<int>(text);
        foreach (int column in keep.Append(id).Append(label))
        {
            if (column >= 0 && !used.Contains(column))
            {
                used.Add(column);
            }
        }
        Used = used;
    }

    private readonly IReadOnlyList<string> _keepNames;

    /// <summary>Indexes of the columns kept as they are (<see cref="SourceColumns.Keep"/>), in the order asked for.</summary>
    public IReadOnlyList<int> KeepColumns { get; }

    /// <summary>Every column index a record's document needs (text, kept, id, label), each once: what a reader decodes.</summary>
    public IReadOnlyList<int> Used { get; }

    /// <summary>Indexes of the text columns, in the order their values are joined.</summary>
    public IReadOnlyList<int> TextColumns { get; }

    /// <summary>Index of the id column, or -1 (the record's position is its id).</summary>
    public int IdColumn { get; }

    /// <summary>Index of the label column, or -1.</summary>
    public int LabelColumn { get; }

    /// <summary>The columns the file has.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The highest column index used, for telling short records apart.</summary>
    public int MaxIndex => Used.Max();

    /// <summary>Resolves <paramref name="columns"/> against <paramref name="available"/>.</summary>
    /// <exception cref="SourceFormatException">A text column, or a label column that was asked for, is missing; the message lists the columns that exist.</exception>
    public static ColumnBinding Resolve(SourceColumns columns, IReadOnlyList<string> available, string source, string where, string? hint = null)
    {
        var text = new int[columns.Text.Count];
        for (int i = 0; i < text.Length; i++)
        {
            text[i] = IndexOf(available, columns.Text[i]);
            if (text[i] < 0)
            {
                throw Missing(source, where, "text", columns.Text[i], available, "--text-column NAME[,NAME...]", hint);
            }
        }
        int label = columns.Label is null ? -1 : IndexOf(available, columns.Label);
        if (label < 0 && columns.LabelRequired)
        {
            throw Missing(source, where, "label", columns.Label!, available, "--label-column NAME", hint);
        }
        var keep = new int[columns.Keep.Count];
        for (int i = 0; i < keep.Length; i++)
        {
            keep[i] = IndexOf(available, columns.Keep[i]);
            if (keep[i] < 0)
            {
                throw Missing(source, where, "kept", columns.Keep[i], available, "--keep-columns NAME[,NAME...]", hint);
            }
        }
        return new ColumnBinding(text, IndexOf(available, columns.Id), label, available, keep, columns.Keep);
    }

    /// <summary>The kept columns' values by the names asked for (null cells left out), or null when none is kept.</summary>
    public IReadOnlyDictionary<string, string>? KeptValues(Func<int, string?> valueAt)
    {
        if (KeepColumns.Count == 0)
        {
            return null;
        }
        var values = new Dictionary<string, string>(KeepColumns.Count, StringComparer.Ordinal);
        for (int i = 0; i < KeepColumns.Count; i++)
        {
            if (valueAt(KeepColumns[i]) is { } value)
            {
                values[_keepNames[i]] = value;
            }
        }
        return values;
    }

    /// <summary>Joins the text columns' values with a space, leaving out empty ones.</summary>
    public string JoinText(Func<int, string?> valueAt)
    {
        if (TextColumns.Count == 1)
        {
            return valueAt(TextColumns[0]) ?? string.Empty;
        }
        var parts = new List<string>(TextColumns.Count);
        foreach (int column in TextColumns)
        {
            if (valueAt(column) is { Length: > 0 } value)
            {
                parts.Add(value);
            }
        }
        return string.Join(' ', parts);
    }

    /// <summary>Splits a label cell holding several labels (<c>2,27</c>) into them.</summary>
    public static IReadOnlyList<string>? SplitLabels(string? cell)
    {
        if (string.IsNullOrWhiteSpace(cell))
        {
            return null;
        }
        string[] parts = cell.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 0 ? null : parts;
    }

    private static int IndexOf(IReadOnlyList<string> available, string name)
    {
        for (int i = 0; i < available.Count; i++)
        {
            if (string.Equals(available[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        for (int i = 0; i < available.Count; i++)
        {
            if (string.Equals(available[i].Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }

    private static SourceFormatException Missing(string source, string where, string role, string name, IReadOnlyList<string> available, string option, string? hint) =>
        new(source, where, $"there is no {role} column '{name}'; the columns are: {(available.Count == 0 ? "(none)" : string.Join(", ", available.Select(a => $"'{a}'")))}. Choose with {option}.{(hint is null ? string.Empty : " " + hint)}");
}
