using StreamLoader.Provider.Streaming;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// What <c>--resume</c> continues for this rank: the checkpoint folder whose model, optimizer and step it takes, and,
/// when the run dealt one global order among another number of ranks, the stream re-dealt for this one.
/// </summary>
/// <param name="Folder">The checkpoint folder this rank continues.</param>
/// <param name="Manifest">Its manifest.</param>
/// <param name="Redealt">The re-dealt stream (<see cref="ElasticResume"/>), or null when the world size is the run's own.</param>
internal sealed record ResumeTarget(string Folder, CheckpointManifest Manifest, ElasticPlan? Redealt)
{
    /// <summary>
    /// Resolves <c>--resume <paramref name="path"/></c> for <paramref name="rank"/> of <paramref name="worldSize"/>. A folder
    /// of runs whose newest run had another number of ranks, and dealt its stream globally, is re-dealt: every old rank's
    /// checkpoint (its <c>latest-rank&lt;r&gt;</c>) is read, and new rank r continues old rank r's model (rank 0's where
    /// the old run had fewer ranks; under data parallelism they hold the same weights).
    /// </summary>
    /// <param name="path">The <c>--resume</c> value: a checkpoint folder, a folder of runs, or a <c>latest</c> pointer.</param>
    /// <param name="rank">This rank, or null where no rank was stated (a single process, or the checkpoint's own).</param>
    /// <param name="worldSize">The world size stated (by <c>--world-size</c> or the launcher), or null.</param>
    /// <param name="report">Hears what recovering an interrupted save did.</param>
    public static ResumeTarget Resolve(string path, int? rank, int? worldSize, Action<string>? report)
    {
        string? newest = NewestFirstRank(path, report);
        GlobalDeal? deal = newest is not null && CheckpointManifest.Load(newest).HasPosition ? ProviderPosition.Load(Path.Combine(newest, CheckpointManifest.PositionFileName)).Deal : null;
        // A folder of runs resumed without a stated world size is resumed by one process; a checkpoint folder named
        // itself keeps its own run's size unless another is stated.
        int? world = worldSize ?? (IsFolderOfRuns(path) ? 1 : null);
        if (deal is null || world is null || deal.WorldSize == world)
        {
            string folder = CheckpointManifest.Resolve(path, rank, report);
            return new ResumeTarget(folder, CheckpointManifest.Load(folder), null);
        }

        var stops = new List<RankStop>(deal.WorldSize);
        var folders = new List<string>(deal.WorldSize);
        long? steps = null;
        for (int r = 0; r < deal.WorldSize; r++)
        {
            string folder = deal.WorldSize == 1 ? newest! : CheckpointManifest.Resolve(path, r, report);
            CheckpointManifest saved = CheckpointManifest.Load(folder);
            ProviderPosition? position = saved.HasPosition ? ProviderPosition.Load(Path.Combine(folder, CheckpointManifest.PositionFileName)) : null;
            if (position?.Deal?.Rank != r)
            {
                throw new Core.Diagnostics.SettingsConflictException(
                    $"--resume {path}: re-dealing the stream of {deal.WorldSize} ranks among {world} needs every old rank's checkpoint, but {folder} is not rank {r}'s "
                    + $"({(position?.Deal is { } d ? $"it is rank {d.Rank}'s" : "it has no dealt position")}). Give the folder of runs whose latest-rank0 … latest-rank{deal.WorldSize - 1} name them.");
            }
            if (steps is long first && saved.Steps != first)
            {
                throw new Core.Diagnostics.SettingsConflictException(
                    $"--resume {path}: the old ranks' checkpoints are at different steps (rank 0 at {first:N0}, rank {r} at {saved.Steps:N0}), so they are not one training's state; "
                    + $"resume with --world-size {deal.WorldSize} to bring them level, or name checkpoints of one step.");
            }
            steps = saved.Steps;
            folders.Add(folder);
            stops.Add(new RankStop(position, saved.ResumeOffset));
        }
        int me = rank ?? 0;
        ElasticPlan plan = ElasticResume.Redeal(stops, world.Value, me);
        string own = folders[me < folders.Count ? me : 0];
        return new ResumeTarget(own, CheckpointManifest.Load(own), plan);
    }

    private static bool IsFolderOfRuns(string path) =>
        Directory.Exists(path) && !File.Exists(Path.Combine(path, CheckpointManifest.FileName));

    /// <summary>
    /// The newest run's first rank: its <c>latest</c> (one rank) or <c>latest-rank0</c> (several), whichever was saved
    /// last where both lie (a run resized from several ranks to one, or back); or the folder or pointer named itself.
    /// Null where there is none (the rank's own checkpoint is then looked for, and a missing one named).
    /// </summary>
    private static string? NewestFirstRank(string path, Action<string>? report)
    {
        if (!IsFolderOfRuns(path))
        {
            try
            {
                return CheckpointManifest.Resolve(path, null, report);
            }
            catch (DirectoryNotFoundException)
            {
                return null;
            }
        }
        string? ranked = File.Exists(Path.Combine(path, CheckpointManifest.LatestFileName + "-rank0")) ? CheckpointManifest.Resolve(path, 0, report) : null;
        string? single = File.Exists(Path.Combine(path, CheckpointManifest.LatestFileName)) ? CheckpointManifest.Resolve(path, null, report) : null;
        if (ranked is not null && single is not null)
        {
            return CheckpointManifest.Load(ranked).CreatedUtc > CheckpointManifest.Load(single).CreatedUtc ? ranked : single;
        }
        return ranked ?? single;
    }
}
