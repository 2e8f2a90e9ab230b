using System.Globalization;
using System.Text.Json.Serialization;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Storage;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// The manifest of a checkpoint folder (<c>checkpoint.json</c>): what the run was, how far it got, and every setting
/// that shaped its data and model, so that <c>--resume DIR</c> continues it with nothing else given.
/// </summary>
/// <remarks>
/// A checkpoint folder holds this manifest, the device state (<c>model.bin</c>, <c>optimizer.bin</c>, <c>rng.bin</c>,
/// <c>trainer.json</c>) and the stream position (<c>position.json</c>). Each run writes its own folder,
/// <c>runs/&lt;task&gt;/&lt;UTC time&gt;/</c> by default, and points <c>runs/&lt;task&gt;/latest</c> at it
/// (<see cref="CheckpointFolders"/>); <see cref="CheckpointWriter"/> writes one.
/// </remarks>
public sealed record CheckpointManifest
{
    /// <summary>The manifest's file name in a checkpoint folder.</summary>
    public const string FileName = "checkpoint.json";

    /// <summary>The stream position's file name in a checkpoint folder.</summary>
    public const string PositionFileName = "position.json";

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

    /// <summary>
    /// For a run whose stream was re-dealt among another number of ranks (<c>--sharding global</c>), the old ranks'
    /// checkpoint folders it was re-dealt from, by rank: a rank of this run that has not saved yet re-deals from them
    /// too (<see cref="ResumeTarget"/>). Null otherwise.
    /// </summary>
    public IReadOnlyList<string>? RedealtFrom { get; init; }

    /// <summary>The effective value of every setting that shaped the run, by option name, as command-line values.</summary>
    public required IReadOnlyDictionary<string, string[]> Settings { get; init; }

    /// <summary>
    /// Every other file of the folder, by name, with its length and SHA-256, so a file cut short or changed in place is
    /// named as damaged when the checkpoint is read (null in checkpoints written before they were recorded).
    /// </summary>
    public IReadOnlyDictionary<string, CheckpointFile>? Files { get; init; }

    /// <summary>The run file beside the manifest: the run's settings as TOML, for <c>--config</c> (and read by <c>--resume</c>).</summary>
    public const string RunFileName = "run.toml";

    /// <summary>
    /// Writes <see cref="RunFileName"/> and the manifest into <paramref name="folder"/>, the manifest atomically and last,
    /// recording the length and checksum of every other file there (the run file's too).
    /// </summary>
    public void Save(string folder)
    {
        StagedFile.WriteAllText(Path.Combine(folder, RunFileName), Commands.ConfigFiles.FromSettings(Settings,
            $"StreamLoader {Task} run, {Steps} steps: the settings that shaped its data and model. '--config {RunFileName}' starts a run like it; '--resume' of this folder continues it."));
        JsonFile.WriteAtomic(Path.Combine(folder, FileName), this with { Files = CheckpointFile.Describe(folder) }, CheckpointJsonContext.Default.CheckpointManifest);
    }

    /// <summary>
    /// The run's settings: from <see cref="RunFileName"/> where the checkpoint has one (its checksum was checked on
    /// <see cref="Load"/>), else as the manifest recorded them.
    /// </summary>
    public IReadOnlyDictionary<string, string[]> ReadSettings(string folder)
    {
        string run = Path.Combine(folder, RunFileName);
        return File.Exists(run) ? Commands.ConfigFiles.ReadSettings(run) : Settings;
    }

    /// <summary>Reads the manifest of <paramref name="folder"/> and checks the files it records; a damaged or missing one is an <see cref="InvalidDataException"/> naming it.</summary>
    public static CheckpointManifest Load(string folder)
    {
        CheckpointManifest manifest = JsonFile.Read(Path.Combine(folder, FileName), CheckpointJsonContext.Default.CheckpointManifest, "checkpoint manifest");
        foreach ((string name, CheckpointFile recorded) in manifest.Files ?? new Dictionary<string, CheckpointFile>())
        {
            recorded.Verify(Path.Combine(folder, name));
        }
        return manifest;
    }
}

/// <summary>A checkpoint file's length and SHA-256 (lower-case hex), as the manifest records them.</summary>
public sealed record CheckpointFile(long Bytes, string Sha256)
{
    /// <summary>Every file of <paramref name="folder"/> but the manifest and the run's claim marker, by name.</summary>
    public static IReadOnlyDictionary<string, CheckpointFile> Describe(string folder)
    {
        var files = new SortedDictionary<string, CheckpointFile>(StringComparer.Ordinal);
        foreach (string path in Directory.GetFiles(folder))
        {
            string name = Path.GetFileName(path);
            if (name is not (CheckpointManifest.FileName or CheckpointFolders.ClaimFileName) && !name.EndsWith(".tmp", StringComparison.Ordinal))
            {
                files[name] = Of(path);
            }
        }
        return files;
    }

    /// <summary>Throws an <see cref="InvalidDataException"/> naming <paramref name="path"/> when it is missing or is not this file.</summary>
    public void Verify(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: the checkpoint file is missing (its manifest records {Bytes:N0} bytes). The checkpoint is damaged: resume from another one.");
        }
        CheckpointFile found = Of(path);
        if (found != this)
        {
            string how = found.Bytes != Bytes ? $"has {found.Bytes:N0} bytes where the manifest records {Bytes:N0}" : $"has the recorded {Bytes:N0} bytes but not their content (SHA-256 {found.Sha256[..12]}…, recorded {Sha256[..12]}…)";
            throw new InvalidDataException($"{path}: the checkpoint file is damaged: it {how}. Resume from another checkpoint.");
        }
    }

    private static CheckpointFile Of(string path)
    {
        using FileStream stream = File.OpenRead(path);
        byte[] hash = System.Security.Cryptography.SHA256.HashData(stream);
        return new CheckpointFile(stream.Length, Convert.ToHexStringLower(hash));
    }
}

/// <summary>Source-generated JSON for checkpoint manifests (snake_case).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(CheckpointManifest))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext
{
}
