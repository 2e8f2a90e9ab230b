namespace StreamLoader.Core.Inference;

/// <summary>Where a document stands in its source: its part (file, Parquet row group) and its position in that part.</summary>
/// <param name="Part">See <see cref="Documents.Document.SourcePart"/>.</param>
/// <param name="Ordinal">See <see cref="Documents.Document.SourceOrdinal"/>.</param>
public readonly record struct SourcePosition(int Part, long Ordinal) : IComparable<SourcePosition>
{
    /// <summary>Source order: by part, then by position in it.</summary>
    public int CompareTo(SourcePosition other) => Part != other.Part ? Part.CompareTo(other.Part) : Ordinal.CompareTo(other.Ordinal);

    public static bool operator <(SourcePosition left, SourcePosition right) => left.CompareTo(right) < 0;

    public static bool operator >(SourcePosition left, SourcePosition right) => left.CompareTo(right) > 0;

    public static bool operator <=(SourcePosition left, SourcePosition right) => left.CompareTo(right) <= 0;

    public static bool operator >=(SourcePosition left, SourcePosition right) => left.CompareTo(right) >= 0;

    /// <summary>"3:1207".</summary>
    public override string ToString() => $"{Part}:{Ordinal}";
}

/// <summary>A document the batcher gave no row, and why (<c>empty</c>: its text has no tokens).</summary>
public readonly record struct SkippedDocument(SourcePosition Position, string Reason);

/// <summary>
/// What the device predicted for one batch, copied out of the step's dispose scope: one row of probabilities per
/// document, with each row's place in the source, plus the documents the batcher skipped and how far the stream is done.
/// </summary>
public sealed class PredictionBatch
{
    public PredictionBatch(int rows, int outputs)
    {
        Rows = rows;
        Outputs = outputs;
        Positions = new SourcePosition[rows];
        TokenCounts = new int[rows];
        Probabilities = new float[rows * outputs];
    }

    /// <summary>Documents predicted.</summary>
    public int Rows { get; }

    /// <summary>Probabilities per row (the model's labels).</summary>
    public int Outputs { get; }

    /// <summary>Each row's document.</summary>
    public SourcePosition[] Positions { get; }

    /// <summary>Each row's document's token count before it was cut to the sequence length.</summary>
    public int[] TokenCounts { get; }

    /// <summary>Row-major <c>[rows, outputs]</c>: softmax (one label) or a sigmoid per label (several).</summary>
    public float[] Probabilities { get; }

    /// <summary>The probabilities of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Row(int row) => Probabilities.AsSpan(row * Outputs, Outputs);

    /// <summary>Documents the batcher gave no row, reported with the batch that closes their window.</summary>
    public IReadOnlyList<SkippedDocument> Skipped { get; init; } = [];

    /// <summary>
    /// Every document of this rank's stream with an ordinal below this has been predicted or skipped in this batch or an
    /// earlier one (the batch's <c>resume_ordinal</c>): the rows before it can be written.
    /// </summary>
    public long Watermark { get; init; } = -1;
}
