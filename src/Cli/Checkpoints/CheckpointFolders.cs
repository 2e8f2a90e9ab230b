using System.Globalization;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Storage;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// Where checkpoints live and how a folder of them stays consistent: finding the one a path names (a folder, a folder
/// of runs, a <c>latest</c> pointer), claiming a run folder, staging a save beside a previous checkpoint and swapping it
/// in, and putting right what a killed save left. <see cref="CheckpointWriter"/> uses these for a run's own checkpoint.
/// </summary>
public static class CheckpointFolders
{
    /// <summary>The pointer file, beside the run folders, that names the newest one.</summary>
    public const string LatestFileName = "latest";

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
            if (File.Exists(Path.Combine(full, CheckpointManifest.FileName)))
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
            throw new DirectoryNotFoundException($"{path}: not a checkpoint folder (it has no {CheckpointManifest.FileName}) and not a folder of runs (it has no '{LatestFileName}' file).");
        }
        throw new DirectoryNotFoundException($"{path}: no such checkpoint folder. Give a folder a run wrote (runs/<task>/<time>) or runs/<task> for its latest.");
    }

    private static string FollowLatest(string pointer)
    {
        string name = File.ReadAllText(pointer).Trim();
        string folder = Path.Combine(Path.GetDirectoryName(pointer)!, name);
        if (name.Length == 0 || !File.Exists(Path.Combine(folder, CheckpointManifest.FileName)))
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
        if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, CheckpointManifest.FileName)) && Directory.GetFileSystemEntries(folder).All(e => Path.GetFileName(e) == ClaimFileName))
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
        StagedFile.WriteAllText(pointer, Path.GetFileName(full) + "\n");
    }

    /// <summary>
    /// Where a run writes its checkpoint when <paramref name="target"/> already holds one (a resumed run saving over
    /// its own folder): a staging folder beside it, moved into place by <see cref="Publish"/> once complete, so a
    /// crash mid-save never leaves a folder that mixes two checkpoints.
    /// </summary>
    public static string StagingFor(string target) =>
        File.Exists(Path.Combine(target, CheckpointManifest.FileName)) ? $"{Path.TrimEndingDirectorySeparator(Path.GetFullPath(target))}.{Owner}.partial" : target;

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
            _ = CheckpointManifest.Load(folder);
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
            if (!File.Exists(Path.Combine(folder, CheckpointManifest.FileName)) && File.Exists(claim) && File.ReadAllText(claim).Trim() is { } owner && IsDeadHere(owner))
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
