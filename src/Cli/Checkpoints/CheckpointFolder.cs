using System.Globalization;
using System.Text.Json.Serialization;
using StreamLoader.Core.Storage;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// The manifest of a checkpoint folder (<c>checkpoint.json</c>): what the run was, how far it got, and every setting
/// that shaped its data and model, so that <c>--resume DIR</c> continues it with nothing else given.
/// </summary>
/// <remarks>
/// A checkpoint folder holds this manifest, the device state (<c>model.bin</c>, <c>optimizer.bin</c>, <c>rng.bin</c>,
/// <c>trainer.json</c>) and the stream position (<c>position.json</c>). Each run writes its own folder,
/// <c>runs/&lt;task&gt;/&lt;UTC time&gt;/</c> by default, and points <c>runs/&lt;task&gt;/latest</c> at it.
/// </remarks>
public sealed record CheckpointManifest
{
    /// <summary>The manifest's file name in a checkpoint folder.</summary>
    public const string FileName = "checkpoint.json";

    /// <summary>The stream position's file name in a checkpoint folder.</summary>
    public const string PositionFileName = "position.json";

    /// <summary>The pointer file, beside the run folders, that names the newest one.</summary>
    public const string LatestFileName = "latest";

    /// <summary>Schema identifier; bumped when fields change meaning.</summary>
    public string Schema { get; init; } = "streamloader.checkpoint/1";

    public required string Task { get; init; }

    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Optimizer steps taken, over every run that led here.</summary>
    public required long Steps { get; init; }

    /// <summary>The tokenizer's identity, vocabulary size and special ids.</summary>
    public required string Tokenizer { get; init; }

    public required int VocabularySize { get; init; }

    /// <summary>Index of the next batch (batch seeds derive from it).</summary>
    public required long NextBatchSequence { get; init; }

    /// <summary>Tokens of the first document after the saved position that were already trained on.</summary>
    public required long ResumeOffset { get; init; }

    /// <summary>A classifier's label names in index order (the model's outputs); null for other tasks.</summary>
    public IReadOnlyList<string>? LabelNames { get; init; }

    /// <summary>True when <see cref="PositionFileName"/> was written (runs that read a source; not the device role).</summary>
    public required bool HasPosition { get; init; }

    /// <summary>
    /// <c>device</c> for a device-role run, whose settings are the device's own: a loader resuming from it takes its
    /// position and batch numbering, not its settings (the position names the source it belongs to). Null for a run of
    /// every service.
    /// </summary>
    public string? Role { get; init; }

    /// <summary>The effective value of every setting that shaped the run, by option name, as command-line values.</summary>
    public required IReadOnlyDictionary<string, string[]> Settings { get; init; }

    /// <summary>Writes the manifest into <paramref name="folder"/>, atomically.</summary>
    public void Save(string folder) => JsonFile.WriteAtomic(Path.Combine(folder, FileName), this, CheckpointJsonContext.Default.CheckpointManifest);

    /// <summary>Reads the manifest of <paramref name="folder"/>.</summary>
    public static CheckpointManifest Load(string folder) => JsonFile.Read(Path.Combine(folder, FileName), CheckpointJsonContext.Default.CheckpointManifest, "checkpoint manifest");

    /// <summary>
    /// The checkpoint folder <paramref name="path"/> names: a checkpoint folder itself, a folder of runs (its
    /// <c>latest</c>), or a <c>latest</c> pointer file. Throws <see cref="DirectoryNotFoundException"/> naming what was looked for.
    /// </summary>
    public static string Resolve(string path, int? rank = null)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full) && Path.GetFileName(full).StartsWith(LatestFileName, StringComparison.Ordinal))
        {
            return FollowLatest(full);
        }
        if (Directory.Exists(full))
        {
            if (File.Exists(Path.Combine(full, FileName)))
            {
                return full;
            }
            string latest = Path.Combine(full, LatestFileName);
            string rankLatest = Path.Combine(full, $"{LatestFileName}-rank{rank}");
            if (rank is not null && File.Exists(rankLatest))
            {
                return FollowLatest(rankLatest);
            }
            if (File.Exists(latest))
            {
                return FollowLatest(latest);
            }
            throw new DirectoryNotFoundException($"{path}: not a checkpoint folder (it has no {FileName}) and not a folder of runs (it has no '{LatestFileName}' file).");
        }
        throw new DirectoryNotFoundException($"{path}: no such checkpoint folder. Give a folder a run wrote (runs/<task>/<time>) or runs/<task> for its latest.");
    }

    private static string FollowLatest(string pointer)
    {
        string name = File.ReadAllText(pointer).Trim();
        string folder = Path.Combine(Path.GetDirectoryName(pointer)!, name);
        if (name.Length == 0 || !File.Exists(Path.Combine(folder, FileName)))
        {
            throw new DirectoryNotFoundException($"{pointer} names '{name}', which is not a checkpoint folder beside it.");
        }
        return folder;
    }

    /// <summary>
    /// Claims a new run folder under <paramref name="runs"/>, named by the UTC time (and the rank, for several), with a
    /// suffix when another run claimed that name first: two runs never share a folder.
    /// </summary>
    public static string ClaimRunFolder(string runs, DateTimeOffset now, string? suffix = null)
    {
        string stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + suffix;
        for (int i = 1; ; i++)
        {
            string folder = Path.Combine(runs, i == 1 ? stamp : $"{stamp}-{i}");
            Directory.CreateDirectory(folder);
            try
            {
                File.Open(Path.Combine(folder, ClaimFileName), FileMode.CreateNew).Dispose();
                return folder;
            }
            catch (IOException) when (File.Exists(Path.Combine(folder, ClaimFileName)))
            {
                // Another run has it.
            }
        }
    }

    /// <summary>Removes a claimed run folder that received no checkpoint (a run that took no step leaves nothing).</summary>
    public static void ReleaseIfUnused(string folder)
    {
        if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, FileName)) && Directory.GetFileSystemEntries(folder).All(e => Path.GetFileName(e) == ClaimFileName))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private const string ClaimFileName = ".claim";

    /// <summary>
    /// Points <c>latest</c> beside <paramref name="folder"/> at it, atomically (<c>latest-rank&lt;r&gt;</c> for one
    /// of several ranks, so each rank resumes its own).
    /// </summary>
    public static void PointLatestAt(string folder, string? rankSuffix = null)
    {
        string full = Path.GetFullPath(folder);
        string pointer = Path.Combine(Path.GetDirectoryName(full)!, LatestFileName + rankSuffix);
        string temp = $"{pointer}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temp, Path.GetFileName(full) + "\n");
        File.Move(temp, pointer, overwrite: true);
    }

    /// <summary>
    /// Where a run writes its checkpoint when <paramref name="target"/> already holds one (a resumed run saving over
    /// its own folder): a staging folder beside it, moved into place by <see cref="Publish"/> once complete, so a
    /// crash mid-save never leaves a folder that mixes two checkpoints.
    /// </summary>
    public static string StagingFor(string target) =>
        File.Exists(Path.Combine(target, FileName)) ? $"{Path.TrimEndingDirectorySeparator(Path.GetFullPath(target))}.{Environment.ProcessId}.partial" : target;

    /// <summary>Replaces <paramref name="target"/> with the complete <paramref name="staged"/> folder (nothing to do when they are one).</summary>
    public static void Publish(string staged, string target)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        if (string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(staged)), full, StringComparison.Ordinal))
        {
            return;
        }
        string old = $"{full}.{Environment.ProcessId}.old";
        Directory.Move(full, old);
        Directory.Move(staged, full);
        Directory.Delete(old, recursive: true);
    }
}

/// <summary>Source-generated JSON for checkpoint manifests (snake_case).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(CheckpointManifest))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext
{
}
