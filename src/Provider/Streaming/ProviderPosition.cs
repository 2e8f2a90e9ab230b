using System.Text.Json.Serialization;
using StreamLoader.Core.Storage;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// Where a rank's document stream stands: enough to resume it exactly. Together with the seed and shuffle buffer
/// size it pins the shuffled order, so resuming replays the epoch's order and skips what was already emitted.
/// </summary>
public sealed record ProviderPosition
{
    /// <summary>The source's fingerprint; resuming against a different source is refused.</summary>
    public required string Fingerprint { get; init; }

    public required int Rank { get; init; }

    public required int WorldSize { get; init; }

    public required int Seed { get; init; }

    /// <summary>Shuffle buffer size (0 = source order).</summary>
    public required int ShuffleBuffer { get; init; }

    /// <summary>Documents the shuffle buffer held before its first pick (see <see cref="ShuffleRule"/>); 0 in positions saved before it existed, whose buffer filled first.</summary>
    public int ShuffleStart { get; init; }

    /// <summary>Documents per block when ranks split the source by document (see <see cref="DocumentStreamOptions.ShardBlock"/>).</summary>
    public int ShardBlock { get; init; } = 1;

    /// <summary>
    /// Parts read together and interleaved (<see cref="DocumentStreamOptions.Interleave"/>); 0 in positions saved
    /// before it existed, whose parts were read one at a time.
    /// </summary>
    public int Interleave { get; init; }

    /// <summary>Documents a part yields in its turn when parts interleave (<see cref="DocumentStreamOptions.InterleaveTurn"/>); 0 for the default.</summary>
    public int InterleaveTurn { get; init; }

    /// <summary>The epoch in progress (0-based).</summary>
    public required int Epoch { get; init; }

    /// <summary>Documents emitted so far in <see cref="Epoch"/>.</summary>
    public required long EmittedInEpoch { get; init; }

    /// <summary>Documents emitted over all epochs.</summary>
    public required long EmittedTotal { get; init; }

    /// <summary>
    /// For a source of several files, the document count of each file the epoch had finished, in the epoch's file
    /// order; lets a resume pass over files without reading them. Null for one file (the epoch is replayed).
    /// </summary>
    public IReadOnlyList<long>? PartitionCounts { get; init; }

    /// <summary>For one local, uncompressed file, the record a resume starts reading at (all it still needs lies after it); null to read from the start.</summary>
    public SeekMark? Seek { get; init; }

    /// <summary>
    /// For a stream dealt from one global order (<c>--sharding global</c>), how it is dealt and to which rank; the
    /// position's own counts are then the global stream's (<see cref="Rank"/> 0 of 1). Null when ranks split the source
    /// (<c>--sharding local</c>).
    /// </summary>
    public GlobalDeal? Deal { get; init; }

    /// <summary>
    /// The tokens already trained of each document a stream resumed here starts part-way into: the document at the
    /// position itself (<paramref name="offset"/>, the checkpoint's resume offset; 0 for none) and those a re-deal handed
    /// over part-trained (<see cref="GlobalDeal.Offsets"/>) still ahead.
    /// </summary>
    public Dictionary<long, long> PartTrained(long offset)
    {
        var offsets = new Dictionary<long, long>();
        foreach ((long ordinal, long tokens) in Deal?.Offsets ?? new Dictionary<long, long>())
        {
            if (ordinal >= EmittedTotal)
            {
                offsets[ordinal] = tokens;
            }
        }
        if (offset > 0)
        {
            offsets[EmittedTotal] = offset;
        }
        return offsets;
    }

    /// <summary>Writes the position as JSON, atomically (temp file, then rename).</summary>
    public void Save(string path) => JsonFile.WriteAtomic(path, this, ProviderJsonContext.Default.ProviderPosition);

    /// <summary>Reads a position saved by <see cref="Save"/>.</summary>
    public static ProviderPosition Load(string path) => JsonFile.Read(path, ProviderJsonContext.Default.ProviderPosition, "provider position file");

    /// <summary>The position as JSON, for a journal that keeps it inline.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, ProviderJsonContext.Default.ProviderPosition);

    /// <summary>Reads <see cref="ToJson"/>'s text; <paramref name="where"/> names it in the error.</summary>
    public static ProviderPosition FromJson(string json, string where)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize(json, ProviderJsonContext.Default.ProviderPosition) ?? throw new InvalidDataException($"{where}: the saved position is empty.");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"{where}: not a provider position: {ex.Message}", ex);
        }
    }
}

/// <summary>Source-generated JSON for provider position files (snake_case, no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ProviderPosition))]
internal sealed partial class ProviderJsonContext : JsonSerializerContext
{
}
