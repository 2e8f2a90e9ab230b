using System.Diagnostics;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A checkpoint folder's name always leads to one complete checkpoint: a save over it stopped at any step of the swap
/// is put right on the next start, and what killed runs left behind is removed and reported.
/// </summary>
public sealed class CheckpointFolderTests
{
    /// <summary>A process id that no running process has: one that has just exited.</summary>
    private static int DeadProcessId()
    {
        using Process done = Process.Start("true")!;
        done.WaitForExit();
        return done.Id;
    }

    private static void WriteCheckpoint(string folder, string model)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "model.bin"), model);
        new CheckpointManifest
        {
            Task = "mlm",
            CreatedUtc = DateTimeOffset.UnixEpoch,
            Steps = 1,
            Tokenizer = "test",
            VocabularySize = 16,
            NextBatchSequence = 1,
            ResumeOffset = 0,
            HasPosition = false,
            Settings = new Dictionary<string, string[]>(),
        }.Save(folder);
    }

    /// <summary>Publishes as a process killed just before step <paramref name="stopAt"/> would (past the last step: not stopped).</summary>
    private static void PublishStoppedBefore(string staged, string target, int stopAt)
    {
        try
        {
            CheckpointFolders.Publish(staged, target, step =>
            {
                if (stopAt < CheckpointFolders.PublishSteps.Count && step == CheckpointFolders.PublishSteps[stopAt])
                {
                    throw new OperationCanceledException($"killed before: {step}");
                }
            });
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Renames what this process left as if another process of this host, now gone, had left it.</summary>
    private static void LeftByDeadProcess(string parent, int dead)
    {
        foreach (string folder in Directory.GetDirectories(parent, $"*.{CheckpointFolders.Owner}.*"))
        {
            Directory.Move(folder, folder.Replace($".{CheckpointFolders.Owner}.", $".{Environment.MachineName}-{dead}.", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(0, "old")]
    [InlineData(1, "new")]
    [InlineData(2, "new")]
    [InlineData(3, "new")] // not stopped: the save completed
    public void Publish_StoppedBeforeAnyStep_TheNameStillLeadsToOneCompleteCheckpoint(int stopAt, string expected)
    {
        using var files = new TempFiles();
        string target = files.Path("ck");
        WriteCheckpoint(target, "old");
        string staged = CheckpointFolders.StagingFor(target);
        WriteCheckpoint(staged, "new");

        PublishStoppedBefore(staged, target, stopAt);
        LeftByDeadProcess(files.Folder, DeadProcessId());
        var notes = new List<string>();

        string resolved = CheckpointFolders.Resolve(target, report: notes.Add);

        Assert.Equal(Path.GetFullPath(target), resolved);
        Assert.Equal(expected, File.ReadAllText(Path.Combine(resolved, "model.bin")));
        Assert.Equal(["ck"], Directory.GetDirectories(files.Folder).Select(Path.GetFileName));
        Assert.Equal(stopAt < 3, notes.Count > 0);
        if (stopAt == 1)
        {
            Assert.Contains(notes, n => n.Contains("was missing", StringComparison.Ordinal) && n.Contains("restored the new checkpoint", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Recover_AStagedCopyThatDoesNotMatchItsManifest_IsNotPromoted_ThePreviousCheckpointIs()
    {
        using var files = new TempFiles();
        string target = files.Path("ck");
        WriteCheckpoint(target, "old");
        string staged = CheckpointFolders.StagingFor(target);
        WriteCheckpoint(staged, "new");
        PublishStoppedBefore(staged, target, 1);
        File.WriteAllText(Path.Combine(staged, "model.bin"), "ne"); // half deleted when the process was killed
        LeftByDeadProcess(files.Folder, DeadProcessId());

        string resolved = CheckpointFolders.Resolve(target);

        Assert.Equal("old", File.ReadAllText(Path.Combine(resolved, "model.bin")));
        Assert.Equal(["ck"], Directory.GetDirectories(files.Folder).Select(Path.GetFileName));
    }

    [Fact]
    public void Recover_ALiveProcessesSave_IsLeftAlone()
    {
        using var files = new TempFiles();
        string target = files.Path("ck");
        WriteCheckpoint(target, "old");
        string staged = CheckpointFolders.StagingFor(target); // this process's: a save in progress
        WriteCheckpoint(staged, "new");

        Assert.Empty(CheckpointFolders.Recover(target));
        Assert.True(Directory.Exists(staged));
    }

    [Fact]
    public async Task ARunKilledBeforeItsSave_LeavesNoRunFolder_AndTheNextRunSavesBesideTheFirst()
    {
        using var files = new TempFiles();
        string docs = CliFixtures.Jsonl(files, "docs.jsonl", 400);
        string vocab = CliFixtures.Vocab(files, "vocab.txt");
        string[] args = ["--all", "--source", docs, "--vocab", vocab, "--model", "micro", "--seq-len", "32", "--log-every", "1", "--progress", "plain"];
        using (CliProcess killed = CliProcess.Start(files.Folder, [.. args, "--max-steps", "100000", "--epochs", "0"]))
        {
            await killed.WaitForOutputAsync("step      2", CliFixtures.Limit);
            Assert.True(killed.Kill(), "the run finished before it was killed");
            await killed.WaitAsync(CliFixtures.Limit);
        }
        string runs = files.Path("runs/mlm");
        Assert.Empty(Directory.Exists(runs) ? Directory.GetFileSystemEntries(runs) : []);

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, CliFixtures.Limit, [.. args, "--max-steps", "3"]);
        Assert.True(exit == 0, stderr);
        string saved = Assert.Single(Directory.GetDirectories(runs));
        Assert.Equal(Path.GetFileName(saved), File.ReadAllText(Path.Combine(runs, CheckpointFolders.LatestFileName)).Trim());
        Assert.True(File.Exists(Path.Combine(saved, CheckpointManifest.FileName)));
    }

    [Fact]
    public void RemoveAbandonedRuns_FoldersOfDeadRunsWithoutACheckpoint_AreRemovedAndReported()
    {
        using var files = new TempFiles();
        string runs = files.Path("runs/mlm");
        string abandoned = CheckpointFolders.ClaimRunFolder(runs, DateTimeOffset.UtcNow);
        File.WriteAllText(Path.Combine(abandoned, "model.bin"), "half a model");
        File.WriteAllText(Path.Combine(abandoned, ".claim"), $"{Environment.MachineName}-{DeadProcessId()}");
        string otherHost = CheckpointFolders.ClaimRunFolder(runs, DateTimeOffset.UtcNow.AddSeconds(1));
        File.WriteAllText(Path.Combine(otherHost, ".claim"), $"another-host-{DeadProcessId()}"); // its host judges that process, not this one
        string mine = CheckpointFolders.ClaimRunFolder(runs, DateTimeOffset.UtcNow); // this process's, still running
        string saved = Path.Combine(runs, "20260101T000000Z");
        WriteCheckpoint(saved, "done");

        IReadOnlyList<string> notes = CheckpointFolders.RemoveAbandonedRuns(runs);

        Assert.False(Directory.Exists(abandoned));
        Assert.True(Directory.Exists(otherHost));
        Assert.True(Directory.Exists(mine));
        Assert.True(Directory.Exists(saved));
        string note = Assert.Single(notes);
        Assert.Contains(abandoned, note, StringComparison.Ordinal);
    }

    [Fact]
    public void Probe_TooLittleRoomForACheckpointOfTheModel_SaysHowMuchBeforeAnyStep()
    {
        using var files = new TempFiles();

        var error = Assert.Throws<StreamLoader.Core.Diagnostics.CheckpointWriteException>(() => CheckpointSpace.Probe(files.Path("runs/ck"), long.MaxValue / 2));

        Assert.Contains("MB free where the checkpoint goes", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was trained", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(files.Path("runs"))); // the probe file is gone
    }
}
