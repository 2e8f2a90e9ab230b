using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;

namespace StreamLoader.Provider.Columns;

/// <summary>
/// Which of a record's columns hold the text, the id and the labels, resolved once against the columns a file
/// actually has: the seam every tabular reader (CSV, Arrow, Parquet) shares, so they agree on joining and errors.
/// </summary>
public sealed class ColumnBinding
{
    private ColumnBinding(int[] text, int id, int label, IReadOnlyList<string> names)
    {
        TextColumns = text;
        IdColumn = id;
        LabelColumn = label;
        Names = names;
    }

    /// <summary>Indexes of the text columns, in the order their values are joined.</summary>
    public IReadOnlyList<int> TextColumns { get; }

    /// <summary>Index of the id column, or -1 (the record's position is its id).</summary>
    public int IdColumn { get; }

    /// <summary>Index of the label column, or -1.</summary>
    public int LabelColumn { get; }

    /// <summary>The columns the file has.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The highest column index used, for telling short records apart.</summary>
    public int MaxIndex => Math.Max(Math.Max(IdColumn, LabelColumn), TextColumns.Max());

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
        return new ColumnBinding(text, IndexOf(available, columns.Id), label, available);
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
