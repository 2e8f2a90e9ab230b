using System.Security.Cryptography;
using System.Text.Json.Serialization;
using StreamLoader.Core.Storage;

namespace StreamLoader.Results.Parts;

/// <summary>
/// The marker written beside a finished output or part (<c>….done</c>), last, so that its presence means the file is
/// whole: what is in it and what produced it. A relaunched rank whose marker matches its settings has nothing to do.
/// </summary>
public sealed record CompletionMarker
{
    /// <summary>Schema identifier.</summary>
    public string Schema { get; init; } = "streamloader.infer-output/1";

    /// <summary>The finished file's name (beside the marker).</summary>
    public required string File { get; init; }

    public required int Rank { get; init; }

    public required int WorldSize { get; init; }

    /// <summary>Rows in the file (after <c>--filter-by</c>).</summary>
    public required long Rows { get; init; }

    /// <summary>Input documents the rows came from (each filtered out or written once).</summary>
    public required long Documents { get; init; }

    public required long Bytes { get; init; }

    /// <summary>SHA-256 of the file, hex.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The rows' columns, labels and the model and tokenizer hashes.</summary>
    public required ResultSchema Columns { get; init; }

    /// <summary>Every setting that decides the rows (model, source, columns, filter, batching), as one line.</summary>
    public required string Settings { get; init; }

    /// <summary>For a merged output, how many parts it joined; null for a rank's own output.</summary>
    public int? MergedParts { get; init; }

    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Writes the marker beside <paramref name="file"/>, atomically.</summary>
    public void Save(string file) => JsonFile.WriteAtomic(OutputLayout.MarkerFor(file), this, ResultsJsonContext.Default.CompletionMarker);

    /// <summary>The marker beside <paramref name="file"/>, or null when there is none.</summary>
    public static CompletionMarker? Load(string file) =>
        System.IO.File.Exists(OutputLayout.MarkerFor(file)) ? JsonFile.Read(OutputLayout.MarkerFor(file), ResultsJsonContext.Default.CompletionMarker, "completion marker") : null;

    /// <summary>
    /// Moves the whole <paramref name="temp"/> file to <paramref name="final"/>, then writes its marker, last: the one
    /// way a finished output comes to be.
    /// </summary>
    public static CompletionMarker Seal(string temp, string final, int rank, int worldSize, long rows, long documents, ResultSchema columns, string settings, int? mergedParts = null)
    {
        StagedFile.Publish(temp, final);
        (string sha, long bytes) = Hash(final);
        var marker = new CompletionMarker
        {
            File = Path.GetFileName(final),
            Rank = rank,
            WorldSize = worldSize,
            Rows = rows,
            Documents = documents,
            Bytes = bytes,
            Sha256 = sha,
            Columns = columns,
            Settings = settings,
            MergedParts = mergedParts,
            CreatedUtc = DateTimeOffset.UtcNow,
        };
        marker.Save(final);
        return marker;
    }

    /// <summary>The SHA-256 of a file, hex, and its length.</summary>
    public static (string Sha256, long Bytes) Hash(string path)
    {
        using FileStream stream = System.IO.File.OpenRead(path);
        return (Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }
}

/// <summary>Source-generated JSON for the result files' markers and journals (snake_case).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(CompletionMarker))]
[JsonSerializable(typeof(Journal.WorkIdentity))]
internal sealed partial class ResultsJsonContext : JsonSerializerContext
{
}

/// <summary>Source-generated JSON for journal lines: one compact object per line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(Journal.CommitRecord))]
internal sealed partial class JournalJsonContext : JsonSerializerContext
{
}
