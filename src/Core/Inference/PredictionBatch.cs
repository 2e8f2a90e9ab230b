using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;

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
public readonly record struct SkippedDocument(SourcePosition Position, string Reason)
{
    /// <summary>The <see cref="BatchMetadataKeys.SkippedDocuments"/> value: <c>[[part, ordinal, "reason"], …]</c>.</summary>
    public static string ToMetadata(IEnumerable<SkippedDocument> skipped)
    {
        var text = new StringBuilder("[");
        foreach (SkippedDocument s in skipped)
        {
            text.Append(text.Length > 1 ? "," : string.Empty).Append(CultureInfo.InvariantCulture, $"[{s.Position.Part},{s.Position.Ordinal},").Append(JsonSerializer.Serialize(s.Reason, CoreJsonContext.Default.String)).Append(']');
        }
        return text.Append(']').ToString();
    }

    /// <summary>Reads a <see cref="BatchMetadataKeys.SkippedDocuments"/> value; throws <see cref="InvalidDataException"/> for another.</summary>
    public static IReadOnlyList<SkippedDocument> FromMetadata(string text)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            return json.RootElement.EnumerateArray()
                .Select(e => new SkippedDocument(new SourcePosition(e[0].GetInt32(), e[1].GetInt64()), e[2].GetString() ?? "skipped"))
                .ToArray();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            throw new InvalidDataException($"{BatchMetadataKeys.SkippedDocuments} '{text}' is not a list of [part, ordinal, reason].", ex);
        }
    }
}

/// <summary>Source-generated JSON for Core's small values.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class CoreJsonContext : System.Text.Json.Serialization.JsonSerializerContext
{
}

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

    /// <summary>The index of the highest probability (the first, on a tie): a single-label model's prediction.</summary>
    public static int Top(ReadOnlySpan<float> probabilities)
    {
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++)
        {
            if (probabilities[i] > probabilities[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>Documents the batcher gave no row, reported with the batch that closes their window.</summary>
    public IReadOnlyList<SkippedDocument> Skipped { get; init; } = [];

    /// <summary>
    /// Every document of this rank's stream with an ordinal below this has been predicted or skipped in this batch or an
    /// earlier one (the batch's <c>resume_ordinal</c>): the rows before it can be written.
    /// </summary>
    public long Watermark { get; init; } = -1;

    /// <summary>
    /// A prediction batch for an inference batch's real rows, with their places in the source, token counts, the
    /// skipped documents and the watermark filled in; the device writes <see cref="Probabilities"/>.
    /// </summary>
    public static PredictionBatch For(TensorBatch batch, int outputs)
    {
        int rows = batch.RowCount;
        var result = new PredictionBatch(rows, outputs)
        {
            Skipped = batch.Metadata.TryGetValue(BatchMetadataKeys.SkippedDocuments, out string? skipped) ? SkippedDocument.FromMetadata(skipped) : [],
            Watermark = batch.Metadata.TryGetValue(BatchMetadataKeys.ResumeOrdinal, out string? watermark) && long.TryParse(watermark, NumberStyles.Integer, CultureInfo.InvariantCulture, out long w) ? w : -1,
        };
        if (rows == 0)
        {
            return result;
        }
        ReadOnlySpan<long> parts = batch[TaskTensors.SourcePart].AsSpan<long>();
        ReadOnlySpan<long> ordinals = batch[TaskTensors.SourceOrdinal].AsSpan<long>();
        ReadOnlySpan<int> counts = batch[TaskTensors.TokenCount].AsSpan<int>();
        for (int r = 0; r < rows; r++)
        {
            result.Positions[r] = new SourcePosition((int)parts[r], ordinals[r]);
            result.TokenCounts[r] = counts[r];
        }
        return result;
    }
}
