using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Device.Training;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// The one owner of a training run's checkpoint, from claim to publish: it tidies what killed runs left where this one
/// saves, checks before the first step that a checkpoint can be written there, claims the run's folder when the save
/// comes (a run stopped before it leaves no folder), stages a save over a previous checkpoint beside it, writes what the
/// device's state does not hold (the stream position, the manifest and the run file), publishes the folder, points
/// <c>latest</c> at it, and takes back what a failed save wrote.
/// </summary>
/// <remarks>
/// The trainer writes the device's state (model, optimizer, generator, counters) into <see cref="Stage"/>'s folder;
/// everything else about the checkpoint happens here. Folder mechanics are <see cref="CheckpointFolders"/>'.
/// </remarks>
internal sealed class CheckpointWriter
{
    private readonly string _checkpoint;
    private readonly bool _underRuns;
    private readonly string? _rankSuffix;
    private readonly DateTimeOffset _started;
    private string? _target;
    private string? _staged;

    private CheckpointWriter(string checkpoint, bool underRuns, string? rankSuffix, DateTimeOffset started)
    {
        _checkpoint = checkpoint;
        _underRuns = underRuns;
        _rankSuffix = rankSuffix;
        _started = started;
    }

    /// <summary>
    /// The writer of this run's checkpoint, or null for a run that saves none (<c>--checkpoint none</c>). Tidies what
    /// killed runs left there first, and tells <paramref name="log"/> what it did.
    /// </summary>
    public static CheckpointWriter? Open(RunSettings settings, string? rankSuffix, Action<string> log)
    {
        if (settings.Device.Checkpoint is not { } checkpoint)
        {
            return null;
        }
        bool underRuns = settings.Device.CheckpointUnderRuns;
        // What killed runs left where this one saves: run folders with no checkpoint, a save cut off mid-swap.
        foreach (string note in underRuns ? CheckpointFolders.RemoveAbandonedRuns(checkpoint) : CheckpointFolders.Recover(checkpoint))
        {
            log(note);
        }
        return new CheckpointWriter(checkpoint, underRuns, rankSuffix, DateTimeOffset.UtcNow);
    }

    /// <summary>The checkpoint this run published, or null.</summary>
    public string? Published { get; private set; }

    /// <summary>
    /// Checks, before the first step, that a checkpoint of <paramref name="bytes"/> can be written where this run will
    /// save it; a <see cref="CheckpointWriteException"/> says why not, and that nothing was trained.
    /// </summary>
    public void Probe(long bytes) => CheckpointSpace.Probe(_underRuns ? _checkpoint : CheckpointFolders.StagingFor(_checkpoint), bytes);

    /// <summary>
    /// The folder the trainer writes the device's state into, claimed now: a new run folder under a folder of runs
    /// (named by the time the run started), or, over a previous checkpoint, a staging folder beside it.
    /// </summary>
    public string Stage()
    {
        if (_staged is not null)
        {
            return _staged;
        }
        _target = _underRuns ? CheckpointFolders.ClaimRunFolder(_checkpoint, _started, _rankSuffix) : _checkpoint;
        _staged = CheckpointFolders.StagingFor(_target);
        return _staged;
    }

    /// <summary>
    /// Completes the checkpoint the trainer saved (the stream position where the device got to, the manifest), publishes
    /// it and points <c>latest</c> at it; returns its folder, or null when the run saved none. A failed write takes back
    /// what this save wrote (the previous checkpoint stays) and throws a <see cref="CheckpointWriteException"/>.
    /// </summary>
    public string? Complete(PipelineRun run, Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(trainer);
        if (trainer.SavedCheckpoint is not { } folder)
        {
            ReleaseClaim();
            return null;
        }
        RunSettings s = run.Settings;
        string target = _target ?? folder;
        bool published = false;
        try
        {
            bool hasPosition = false;
            if (run.Positions is not null && trainer.ResumeOrdinal >= 0)
            {
                // Where the device got to, not how far the provider read ahead.
                run.Positions.PositionAt(trainer.ResumeOrdinal).Save(Path.Combine(folder, CheckpointManifest.PositionFileName));
                hasPosition = true;
            }
            else if (trainer.ResumePosition is { } position)
            {
                // A device role: the loader stamped where the data it trained on ends.
                Provider.Streaming.ProviderPosition.FromJson(position, "the last batch's resume_position").Save(Path.Combine(folder, CheckpointManifest.PositionFileName));
                hasPosition = true;
            }
            new CheckpointManifest
            {
                Task = run.Task.Name,
                CreatedUtc = DateTimeOffset.UtcNow,
                Steps = trainer.Steps,
                Tokenizer = run.Vocabulary.Tokenizer,
                VocabularySize = run.Vocabulary.Size,
                NextBatchSequence = trainer.NextBatchSequence,
                ResumeOffset = trainer.ResumeOffset,
                LabelNames = run.Labels?.Names,
                HasPosition = hasPosition,
                Role = s.Transport.Role == RunRole.Device ? "device" : null,
                RedealtFrom = s.RedealtFrom,
                Settings = s.Recorded,
            }.Save(folder);
            CheckpointFolders.Publish(folder, target);
            published = true;
            if (_underRuns)
            {
                CheckpointFolders.PointLatestAt(target, _rankSuffix);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Before it is published, what this save wrote is no checkpoint: it would only hold the disk (a full one,
            // often). A staged copy beside the previous checkpoint, or a run folder of its own, goes; the previous
            // checkpoint stays. Once published, the checkpoint is complete and stays, whatever failed after it.
            string cleaned = published ? $"; the checkpoint itself is complete in {target}" : Discard();
            throw new CheckpointWriteException($"{target}: the checkpoint could not be completed: {ex.Message}{cleaned}", ex);
        }
        Published = target;
        return target;
    }

    /// <summary>
    /// After the trainer's own save failed (<paramref name="error"/> is a <see cref="CheckpointWriteException"/>, a full
    /// disk often): removes what it wrote; says what it removed, or nothing.
    /// </summary>
    public string DiscardFailedSave(Exception? error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is CheckpointWriteException)
            {
                return Discard();
            }
        }
        return string.Empty;
    }

    /// <summary>Removes what a failed save wrote, where that was a folder of its own; says what it removed (or nothing).</summary>
    private string Discard()
    {
        if (_staged is not { } written || _target is not { } target)
        {
            return string.Empty;
        }
        bool staged = !string.Equals(Path.GetFullPath(written), Path.GetFullPath(target), StringComparison.Ordinal);
        if ((!staged && !_underRuns) || !Directory.Exists(written))
        {
            return string.Empty;
        }
        try
        {
            // The previous checkpoint takes its name back first, if the publish had set it aside: the name never
            // goes missing while the copy is deleted.
            string setAside = CheckpointFolders.SetAsideFor(target);
            if (staged && !Directory.Exists(target) && Directory.Exists(setAside))
            {
                Directory.Move(setAside, target);
            }
            Directory.Delete(written, recursive: true);
            return staged ? $"; the unfinished copy {written} was removed and {target} still holds the previous checkpoint" : $"; the unfinished run folder {written} was removed";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"; the unfinished {written} could not be removed either ({ex.Message})";
        }
    }

    /// <summary>Removes a run folder claimed for a checkpoint that was never written.</summary>
    private void ReleaseClaim()
    {
        if (_staged is not null && _underRuns)
        {
            CheckpointFolders.ReleaseIfUnused(_staged);
        }
    }
}
