using StreamLoader.Core.Diagnostics;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// What <c>--resume</c> continues for this rank: the checkpoint folder whose model, optimizer and step it takes, and,
/// when the run dealt one global order among another number of ranks, the stream re-dealt for this one.
/// </summary>
/// <param name="Folder">The checkpoint folder this rank continues.</param>
/// <param name="Manifest">Its manifest.</param>
/// <param name="Redealt">The re-dealt stream (<see cref="ElasticResume"/>), or null when this rank continues its own checkpoint's stream.</param>
/// <param name="RedealtFrom">The old ranks' checkpoint folders the stream was re-dealt from, by rank; null when not re-dealt.</param>
internal sealed record ResumeTarget(string Folder, CheckpointManifest Manifest, ElasticPlan? Redealt, IReadOnlyList<string>? RedealtFrom)
{
    /// <summary>What the user should know about the resume (old ranks at different steps), or null.</summary>
    public string? Note { get; init; }

    /// <summary>
    /// Resolves <c>--resume <paramref name="path"/></c> for <paramref name="rank"/> of <paramref name="worldSize"/>.
    /// </summary>
    /// <remarks>
    /// A folder of runs whose newest run dealt its stream globally (<c>--sharding global</c>) among another number of
    /// ranks is re-dealt: every old rank's checkpoint (its <c>latest-rank&lt;r&gt;</c>) is read, and new rank r continues
    /// old rank r's model (rank 0's where the old run had fewer ranks; under data parallelism they hold the same
    /// weights; where the old ranks stopped at different steps, a note says so). A re-dealt run's checkpoints name the folders it was re-dealt from (<see cref="CheckpointManifest.RedealtFrom"/>),
    /// so a rank that had not saved yet when the others did re-deals from the same folders and joins the same run,
    /// whatever order the ranks start and save in.
    /// </remarks>
    /// <param name="path">The <c>--resume</c> value: a checkpoint folder, a folder of runs, or a <c>latest</c> pointer.</param>
    /// <param name="rank">This rank, or null where no rank was stated (a single process, or the checkpoint's own).</param>
    /// <param name="worldSize">The world size stated (by <c>--world-size</c> or the launcher), or null.</param>
    /// <param name="report">Hears what recovering an interrupted save did.</param>
    public static ResumeTarget Resolve(string path, int? rank, int? worldSize, Action<string>? report)
    {
        // Loading a manifest checks every file it records against its SHA-256: each folder is loaded once.
        var manifests = new Dictionary<string, CheckpointManifest>(StringComparer.Ordinal);
        CheckpointManifest Load(string folder) => manifests.TryGetValue(folder, out CheckpointManifest? loaded) ? loaded : manifests[folder] = CheckpointManifest.Load(folder);

        string? newest = NewestFirstRank(path, report, Load);
        CheckpointManifest? newestManifest = newest is null ? null : Load(newest);
        GlobalDeal? deal = newestManifest is { HasPosition: true } ? PositionIn(newest!).Deal : null;
        // A folder of runs resumed without a stated world size is resumed by one process; a checkpoint folder named
        // itself keeps its own run's size unless another is stated.
        int? world = worldSize ?? (IsFolderOfRuns(path) ? 1 : null);
        if (deal is null || world is null)
        {
            return Own(path, rank, report, Load);
        }
        if (deal.WorldSize != world)
        {
            string[] old = deal.WorldSize == 1 ? [newest!] : [.. Enumerable.Range(0, deal.WorldSize).Select(r => CheckpointFolders.Resolve(path, r, report))];
            return Redeal(path, old, rank ?? 0, world.Value, Load);
        }
        // The newest run had this size: this rank continues its own checkpoint of that run, or, where it has none yet
        // (it had not saved when the others did), joins it as the re-deal that made it dealt it.
        ResumeTarget? own = null;
        try
        {
            own = Own(path, rank, report, Load);
        }
        catch (DirectoryNotFoundException) when (newestManifest!.RedealtFrom is { Count: > 0 })
        {
        }
        bool sameRun = own is not null && own.Manifest.HasPosition && PositionIn(own.Folder).Deal is { } ownDeal && ownDeal.SameDealAs(deal);
        if (!sameRun && newestManifest!.RedealtFrom is { Count: > 0 } from)
        {
            return Redeal(path, from, rank ?? 0, world.Value, Load);
        }
        return own ?? Own(path, rank, report, Load);
    }

    private static ResumeTarget Own(string path, int? rank, Action<string>? report, Func<string, CheckpointManifest> load)
    {
        string folder = CheckpointFolders.Resolve(path, rank, report);
        return new ResumeTarget(folder, load(folder), null, null);
    }

    /// <summary>Re-deals the stream the checkpoints in <paramref name="old"/> (by rank) left, for <paramref name="rank"/> of <paramref name="world"/>.</summary>
    private static ResumeTarget Redeal(string path, IReadOnlyList<string> old, int rank, int world, Func<string, CheckpointManifest> load)
    {
        var stops = new List<RankStop>(old.Count);
        var steps = new List<long>(old.Count);
        for (int r = 0; r < old.Count; r++)
        {
            string folder = old[r];
            CheckpointManifest saved = load(folder);
            ProviderPosition? position = saved.HasPosition ? PositionIn(folder) : null;
            if (position?.Deal?.Rank != r)
            {
                throw new SettingsConflictException(
                    $"--resume {path}: re-dealing the stream of {old.Count} ranks among {world} needs every old rank's checkpoint, but {folder} is not rank {r}'s "
                    + $"({(position?.Deal is { } d ? $"it is rank {d.Rank}'s" : "it has no dealt position")}). Give the folder of runs whose latest-rank0 … latest-rank{old.Count - 1} name them.");
            }
            steps.Add(saved.Steps);
            stops.Add(new RankStop(position, saved.ResumeOffset));
        }
        ElasticPlan plan = ElasticResume.Redeal(stops, world, rank);
        string own = old[rank < old.Count ? rank : 0];
        // Data-parallel ranks checkpoint at one step; ranks that train models of their own (StreamLoader devices)
        // and were stopped by a signal may not have. The stream is re-dealt exactly either way; say whose state goes on.
        string? note = steps.Distinct().Count() > 1
            ? $"the old ranks stopped at different steps ({string.Join(", ", steps.Select((n, r) => $"rank {r} at {n:N0}"))}); rank {rank} continues the model and step of old rank {(rank < old.Count ? rank : 0)} ({steps[rank < old.Count ? rank : 0]:N0}), and the stream is re-dealt exactly from where each stood"
            : null;
        return new ResumeTarget(own, load(own), plan, old) { Note = note };
    }

    private static ProviderPosition PositionIn(string folder) => ProviderPosition.Load(Path.Combine(folder, CheckpointManifest.PositionFileName));

    private static bool IsFolderOfRuns(string path) =>
        Directory.Exists(path) && !File.Exists(Path.Combine(path, CheckpointManifest.FileName));

    /// <summary>
    /// The newest run's first rank: its <c>latest</c> (one rank) or <c>latest-rank0</c> (several), whichever was saved
    /// last where both lie (a run resized from several ranks to one, or back); or the folder or pointer named itself.
    /// Null where there is none (the rank's own checkpoint is then looked for, and a missing one named).
    /// </summary>
    private static string? NewestFirstRank(string path, Action<string>? report, Func<string, CheckpointManifest> load)
    {
        try
        {
            if (!IsFolderOfRuns(path))
            {
                return CheckpointFolders.Resolve(path, null, report);
            }
            string? ranked = File.Exists(Path.Combine(path, CheckpointFolders.LatestFileName + "-rank0")) ? CheckpointFolders.Resolve(path, 0, report) : null;
            string? single = File.Exists(Path.Combine(path, CheckpointFolders.LatestFileName)) ? CheckpointFolders.Resolve(path, null, report) : null;
            if (ranked is not null && single is not null)
            {
                return load(ranked).CreatedUtc > load(single).CreatedUtc ? ranked : single;
            }
            return ranked ?? single;
        }
        catch (DirectoryNotFoundException)
        {
            // A pointer naming no checkpoint: this rank's own is looked for next, and a missing one named.
            return null;
        }
    }
}
