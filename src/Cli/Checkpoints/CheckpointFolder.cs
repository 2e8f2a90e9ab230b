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
        string run = Path.Combine(folder, RunFileName);
        File.WriteAllText(run + ".tmp", Commands.ConfigFiles.FromSettings(Settings,
            $"StreamLoader {Task} run, {Steps} steps: the settings that shaped its data and model. '--config {RunFileName}' starts a run like it; '--resume' of this folder continues it."));
        File.Move(run + ".tmp", run, overwrite: true);
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

    /// <summary>
    /// The checkpoint folder <paramref name="path"/> names: a checkpoint folder itself, a folder of runs (its
    /// <c>latest</c>), or a <c>latest</c> pointer file. Throws <see cref="DirectoryNotFoundException"/> naming what was looked for.
    /// </summary>
    /// <remarks>
    /// A save that was cut off while it replaced the folder is recovered first (see <see cref="Recover"/>), and
    /// <paramref name="report"/> hears what was done.
    /// </remarks>
    public static string Resolve(string path, int? rank = null, Action<string>? report = null)
    {
        string full = Path.GetFullPath(path);
        foreach (string note in Recover(full))
        {
            report?.Invoke(note);
        }
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
                using (FileStream claim = File.Open(Path.Combine(folder, ClaimFileName), FileMode.CreateNew))
                {
                    // Whose claim it is: a later run removes the folder if that process died before it saved.
                    claim.Write(System.Text.Encoding.UTF8.GetBytes(Owner));
                }
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

    /// <summary>The marker a run leaves in the run folder it claimed, holding its <see cref="Owner"/>.</summary>
    internal const string ClaimFileName = ".claim";

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
        File.Exists(Path.Combine(target, FileName)) ? $"{Path.TrimEndingDirectorySeparator(Path.GetFullPath(target))}.{Owner}.partial" : target;

    /// <summary>Where <see cref="Publish"/> sets the previous checkpoint of <paramref name="target"/> aside while it swaps.</summary>
    public static string SetAsideFor(string target) => $"{Path.TrimEndingDirectorySeparator(Path.GetFullPath(target))}.{Owner}.old";

    /// <summary>
    /// This process, as the names of its leftovers and its run folders' claims record it: host and pid, so that only
    /// the host that wrote them judges whether their process still runs (a runs folder may be shared by machines).
    /// </summary>
    internal static string Owner { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>
    /// Replaces <paramref name="target"/> with the complete <paramref name="staged"/> folder (nothing to do when they are
    /// one): the old folder is set aside as <c>TARGET.PID.old</c>, the staged one moved into place, the old one removed.
    /// A process killed between two of those steps leaves what <see cref="Recover"/> puts right on the next start, so
    /// the name always leads to one complete checkpoint.
    /// </summary>
    /// <param name="staged">The complete checkpoint, written beside the target.</param>
    /// <param name="target">The folder the checkpoint is known by.</param>
    /// <param name="beforeStep">Called with each step's name (<see cref="PublishSteps"/>) before it is taken; tests stop the sequence there.</param>
    public static void Publish(string staged, string target, Action<string>? beforeStep = null)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        if (string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(staged)), full, StringComparison.Ordinal))
        {
            return;
        }
        string old = SetAsideFor(full);
        beforeStep?.Invoke(PublishSteps[0]);
        Directory.Move(full, old);
        beforeStep?.Invoke(PublishSteps[1]);
        Directory.Move(staged, full);
        beforeStep?.Invoke(PublishSteps[2]);
        Directory.Delete(old, recursive: true);
    }

    /// <summary>The steps of <see cref="Publish"/>, in order.</summary>
    public static IReadOnlyList<string> PublishSteps { get; } = ["set the old folder aside", "move the new folder into place", "remove the old folder"];

    /// <summary>
    /// Puts right what a process killed while saving over <paramref name="target"/> left beside it
    /// (<c>TARGET.PID.partial</c>, <c>TARGET.PID.old</c>, where PID is no longer running): when the target itself is
    /// missing (killed between the two moves of <see cref="Publish"/>), the newer complete copy takes its name again;
    /// then the leftovers are removed. A live process's leftovers are its save in progress and stay. Returns one line
    /// for each thing done.
    /// </summary>
    public static IReadOnlyList<string> Recover(string target)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent))
        {
            return [];
        }
        string name = Path.GetFileName(full);
        var leftovers = new List<(string Folder, string Kind, string Owner)>();
        foreach (string folder in Directory.GetDirectories(parent, name + ".*"))
        {
            // The pattern also matches the name itself (an empty extension).
            string entry = Path.GetFileName(folder);
            if (entry.Length <= name.Length + 1 || !entry.StartsWith(name + ".", StringComparison.Ordinal))
            {
                continue;
            }
            string suffix = entry[(name.Length + 1)..];
            string kind = suffix.EndsWith(".partial", StringComparison.Ordinal) ? "partial" : suffix.EndsWith(".old", StringComparison.Ordinal) ? "old" : string.Empty;
            string owner = kind.Length > 0 ? suffix[..^(kind.Length + 1)] : string.Empty;
            if (kind.Length > 0 && IsDeadHere(owner))
            {
                leftovers.Add((folder, kind, owner));
            }
        }
        var notes = new List<string>();
        try
        {
            if (!Directory.Exists(full))
            {
                // The staged copy is complete once a publish began (its manifest is written last), and its files are
                // checked against the manifest: then it is the newer one.
                foreach ((string folder, string kind, string owner) in leftovers.OrderBy(l => l.Kind == "partial" ? 0 : 1))
                {
                    if (IsComplete(folder))
                    {
                        Directory.Move(folder, full);
                        notes.Add($"{full} was missing: process {owner} was stopped while it replaced it; restored the {(kind == "partial" ? "new" : "previous")} checkpoint from {folder}.");
                        break;
                    }
                }
            }
            foreach ((string folder, _, string owner) in leftovers)
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                    notes.Add($"removed {folder}: a save by process {owner}, which is no longer running, was cut off.");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only copy, say: what could not be put right is named, and reading goes on.
            notes.Add($"could not tidy what a stopped save left beside {full} ({ex.Message}).");
        }
        return notes;
    }

    private static bool IsComplete(string folder)
    {
        try
        {
            _ = Load(folder);
            return true;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="owner"/> (host-pid) names a process of this host that is no longer running.</summary>
    private static bool IsDeadHere(string owner)
    {
        int dash = owner.LastIndexOf('-');
        return dash > 0 && owner[..dash] == Environment.MachineName
            && int.TryParse(owner[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !Processes.IsRunning(pid);
    }

    /// <summary>
    /// Removes the run folders under <paramref name="runs"/> that hold no checkpoint and whose claim belongs to a process
    /// that is no longer running (a run killed before its first save, or during it). Returns one line for each.
    /// </summary>
    public static IReadOnlyList<string> RemoveAbandonedRuns(string runs)
    {
        if (!Directory.Exists(runs))
        {
            return [];
        }
        var notes = new List<string>();
        foreach (string folder in Directory.GetDirectories(runs))
        {
            string claim = Path.Combine(folder, ClaimFileName);
            if (!File.Exists(Path.Combine(folder, FileName)) && File.Exists(claim) && File.ReadAllText(claim).Trim() is { } owner && IsDeadHere(owner))
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                    notes.Add($"removed {folder}: run folder of process {owner}, which stopped before it saved a checkpoint there.");
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    notes.Add($"could not remove {folder}, left by process {owner} ({ex.Message}).");
                }
            }
        }
        return notes;
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
            if (name is not (CheckpointManifest.FileName or CheckpointManifest.ClaimFileName) && !name.EndsWith(".tmp", StringComparison.Ordinal))
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
