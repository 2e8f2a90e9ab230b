using StreamLoader.Core.Inference;

namespace StreamLoader.Results;

/// <summary>What became of a document: classified, classified on its first tokens only, or not classified.</summary>
public static class RowStatus
{
    /// <summary>Classified on all its tokens.</summary>
    public const string Ok = "ok";

    /// <summary>Classified on its first seq_len − 2 tokens: the document is longer.</summary>
    public const string Truncated = "truncated";

    /// <summary>Not classified: its text has no tokens. The row is written without a label.</summary>
    public const string Empty = "empty";
}

/// <summary>One output row: the input document's id, the columns kept from it, the prediction and where it came from.</summary>
public sealed record ResultRow
{
    /// <summary>The input's id.</summary>
    public required string Id { get; init; }

    /// <summary>The kept columns' values, in <see cref="ResultSchema.KeepColumns"/> order (null where the record has none).</summary>
    public required string?[] Kept { get; init; }

    /// <summary>One of <see cref="RowStatus"/>.</summary>
    public required string Status { get; init; }

    /// <summary>Single-label: the predicted label; null when not classified (and for multi-label).</summary>
    public string? Label { get; init; }

    /// <summary>Multi-label: the labels over the threshold (maybe none); null when not classified (and for single-label).</summary>
    public string[]? Labels { get; init; }

    /// <summary>Each label's probability, in <see cref="ResultSchema.LabelNames"/> order; null when not classified.</summary>
    public float[]? Probabilities { get; init; }

    /// <summary>The document's tokens before it was cut to the sequence length (0 when empty).</summary>
    public required int Tokens { get; init; }

    /// <summary>The file (or URL) the record was read from.</summary>
    public required string Source { get; init; }

    /// <summary>The record's place in its source: the part and the position in it (<see cref="SourcePosition"/>).</summary>
    public required SourcePosition Position { get; init; }

    /// <summary>The 1-based line the record starts on, for line-based formats; null otherwise.</summary>
    public long? Line { get; init; }

    /// <summary>The byte offset the record starts at, where the reader knows it (a local uncompressed file); null otherwise.</summary>
    public long? Offset { get; init; }
}
