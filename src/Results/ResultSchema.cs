using System.Text.Json.Serialization;

namespace StreamLoader.Results;

/// <summary>
/// The columns of an inference output: <c>id</c>, the kept columns, <c>label</c> (or <c>labels</c>),
/// <c>probabilities</c> (label name → probability), <c>status</c>, <c>tokens</c>, where the record came from
/// (<c>source</c>, <c>source_part</c>, <c>source_ordinal</c>, <c>source_line</c>, <c>source_offset</c>) and what
/// produced it (<c>model_hash</c>, <c>tokenizer_hash</c>). docs/INFERENCE.md lists them.
/// </summary>
public sealed record ResultSchema
{
    /// <summary>The output's own column names, which a kept column may not take.</summary>
    public static readonly IReadOnlyList<string> OwnColumns =
        ["id", "label", "labels", "probabilities", "status", "tokens", "source", "source_part", "source_ordinal", "source_line", "source_offset", "model_hash", "tokenizer_hash"];

    /// <summary>Columns copied from the input, in order.</summary>
    public required IReadOnlyList<string> KeepColumns { get; init; }

    /// <summary>The model's labels, in output order.</summary>
    public required IReadOnlyList<string> LabelNames { get; init; }

    /// <summary>True for a multi-label model: <c>labels</c> (a list) instead of <c>label</c>.</summary>
    public required bool MultiLabel { get; init; }

    /// <summary>The first 16 hex digits of the SHA-256 of the model's weights file.</summary>
    public required string ModelHash { get; init; }

    /// <summary>The first 16 hex digits of the SHA-256 of the tokenizer's files and settings.</summary>
    public required string TokenizerHash { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when a kept column takes one of the output's own names, or repeats.</summary>
    public void Validate()
    {
        foreach (string column in KeepColumns)
        {
            if (OwnColumns.Contains(column))
            {
                throw new ArgumentException($"--keep-columns {column}: the output has its own column '{column}'; keep another column, or rename it in the input.");
            }
        }
        if (KeepColumns.Distinct(StringComparer.Ordinal).Count() != KeepColumns.Count)
        {
            throw new ArgumentException($"--keep-columns {string.Join(',', KeepColumns)}: a column is named twice.");
        }
        if (LabelNames.Count == 0)
        {
            throw new ArgumentException("The model has no labels to predict.");
        }
    }

    /// <summary>A one-line form for comparing two runs' outputs.</summary>
    [JsonIgnore]
    public string Signature => $"keep={string.Join(',', KeepColumns)}|labels={string.Join(',', LabelNames)}|multi={MultiLabel}|model={ModelHash}|tokenizer={TokenizerHash}";
}
