using StreamLoader.Cli.Checkpoints;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Training;
using TorchSharp;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>
/// Training: the task's model on the device, AdamW, held-out evaluation for classifiers, and the checkpoint folder
/// (the device's state, the stream position where it got to, the manifest and the runs' <c>latest</c> pointer).
/// </summary>
internal sealed class TrainConsumer : IRunConsumer
{
    private ITaskModel? _model;
    private Trainer? _trainer;
    private string _deviceName = "none";
    private string? _claimedFolder;
    private string? _checkpointTarget;
    private string? _checkpoint;

    public string Command => "train";

    public long? Tokens => _trainer?.Tokens;

    public void AddStages(PipelineRun run)
    {
        RunSettings s = run.Settings;
        IDeviceTask deviceTask = TaskPlugins.Devices.Get(run.Task.Name);
        torch.Device device = DeviceModels.Select(s.Device);
        _deviceName = device.ToString();
        // The host seeds the generator and moves the model, so every task's model starts alike from --seed.
        string? resumeFrom = s.ResumeFolder is { } folder && TrainingState.ExistsIn(folder) ? folder : null;
        ITaskModel model = DeviceModels.Build(run, deviceTask, device, run.SequenceLength, run.Labels, s.Device.Pretrained, weightsFromCheckpoint: resumeFrom is not null);
        _model = model;
        if (s.Device.Checkpoint is { } checkpoint)
        {
            // What killed runs left where this one saves: run folders with no checkpoint, a save cut off mid-swap.
            foreach (string note in s.Device.CheckpointUnderRuns ? CheckpointManifest.RemoveAbandonedRuns(checkpoint) : CheckpointManifest.Recover(checkpoint))
            {
                run.Progress.Log(note);
            }
            _checkpointTarget = s.Device.CheckpointUnderRuns
                ? CheckpointManifest.ClaimRunFolder(checkpoint, DateTimeOffset.UtcNow, run.RankSuffix)
                : checkpoint;
            _claimedFolder = CheckpointManifest.StagingFor(_checkpointTarget);
        }
        if (_claimedFolder is not null)
        {
            try
            {
                CheckpointSpace.Probe(_claimedFolder, CheckpointSpace.Estimate(model));
            }
            catch
            {
                ReleaseClaim(s);
                throw;
            }
        }
        TrainerOptions options = s.Device.Training with
        {
            InitFrom = s.Device.Training.InitFrom is { } init ? Verified(CheckpointManifest.Resolve(init)) : null,
            CheckpointFolder = _claimedFolder,
            ResumeFrom = resumeFrom,
        };
        Trainer trainer;
        try
        {
            trainer = new Trainer(model, options, device)
            {
                OnLog = r => run.Progress.Log($"step {r.Step,6}  loss {r.Loss:0.0000}  lr {r.LearningRate:0.00e+0}  {r.StepSeconds * 1000:0} ms/step"),
                OnEvaluate = e => run.Progress.Log($"eval  {e.Step,6}  held-out rows {e.Scores.Rows:N0}  accuracy {e.Scores.Accuracy:0.000}  micro-F1 {e.Scores.MicroF1:0.000}  macro-F1 {e.Scores.MacroF1:0.000}"),
            };
        }
        catch
        {
            // A checkpoint that cannot be loaded: leave no empty run folder behind.
            ReleaseClaim(s);
            throw;
        }
        _trainer = trainer;
        DeviceModels.Describe(run, _deviceName, model);
        if (resumeFrom is not null)
        {
            run.Progress.Log($"resumed from {resumeFrom}: step {trainer.Steps:N0}, next batch {trainer.NextBatchSequence:N0}");
            if (options.MaxSteps is long max && trainer.Steps >= max)
            {
                // --max-steps counts every step since the first run, so the same limit again trains nothing.
                run.Progress.Log($"nothing to train: the checkpoint is at step {trainer.Steps:N0} and --max-steps {max:N0} counts the steps of every run so far; raise it to go on (for example --max-steps {trainer.Steps * 2})");
            }
        }
        else if (trainer.InitializedParameters is (int loaded, int total))
        {
            run.Progress.Log($"initialised {loaded} of {total} parameter tensors from {options.InitFrom}; the rest start fresh");
        }
        if (run.Context is { HeldOut.Enabled: true } context)
        {
            run.Progress.Log($"held out for evaluation: {context.HeldOut.Description}; evaluated every {options.EvalEvery} steps and at the end, beside a majority-class and a bag-of-words baseline");
        }
        var input = run.Reader!;
        run.ConsumerStage = run.Pipeline.AddStage("device", stage => trainer.RunAsync(stage, input));
    }

    public ProgressSample Sample(ProgressSample sample) => sample with { Steps = _trainer?.StepsThisRun ?? 0, Loss = _trainer?.LastLoss ?? double.NaN };

    public Task<Exception?> FinishAsync(PipelineRun run, Exception? error, CancellationToken cancellationToken)
    {
        if (_claimedFolder is not null && _checkpointTarget is not null && IsCheckpointWrite(error))
        {
            // The save itself failed (a full disk, often): what it wrote is no checkpoint and would only hold the disk.
            if (Discard(_claimedFolder, _checkpointTarget, run.Settings) is { Length: > 0 } cleaned)
            {
                run.Progress.Log($"checkpoint not saved{cleaned}.");
            }
        }
        try
        {
            _checkpoint = FinishCheckpoint(run);
            return Task.FromResult<Exception?>(null);
        }
        catch (CheckpointWriteException ex)
        {
            return Task.FromResult<Exception?>(ex);
        }
    }

    /// <summary>
    /// Completes the checkpoint folder the trainer wrote (stream position, manifest, the runs' <c>latest</c>
    /// pointer), or removes the folder claimed for it when the run took no step. Returns the folder, or null.
    /// </summary>
    private string? FinishCheckpoint(PipelineRun run)
    {
        RunSettings s = run.Settings;
        string? folder = _trainer?.SavedCheckpoint;
        if (folder is null)
        {
            ReleaseClaim(s);
            return null;
        }
        Trainer trainer = _trainer!;
        string target = _checkpointTarget ?? folder;
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
            CheckpointManifest.Publish(folder, target);
            published = true;
            if (s.Device.CheckpointUnderRuns)
            {
                CheckpointManifest.PointLatestAt(target, run.RankSuffix);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Before it is published, what this save wrote is no checkpoint: it would only hold the disk (a full one,
            // often). A staged copy beside the previous checkpoint, or a run folder of its own, goes; the previous
            // checkpoint stays. Once published, the checkpoint is complete and stays, whatever failed after it.
            string cleaned = published ? $"; the checkpoint itself is complete in {target}" : Discard(folder, target, s);
            throw new CheckpointWriteException($"{target}: the checkpoint could not be completed: {ex.Message}{cleaned}", ex);
        }
        return target;
    }

    private static bool IsCheckpointWrite(Exception? error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is Core.Diagnostics.CheckpointWriteException)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A checkpoint folder whose files its manifest vouches for (see <see cref="CheckpointManifest.Load"/>).</summary>
    private static string Verified(string folder)
    {
        _ = CheckpointManifest.Load(folder);
        return folder;
    }

    /// <summary>Removes what a failed save wrote, where that was a folder of its own; says what it removed (or nothing).</summary>
    private static string Discard(string written, string target, RunSettings s)
    {
        bool staged = !string.Equals(Path.GetFullPath(written), Path.GetFullPath(target), StringComparison.Ordinal);
        if ((!staged && !s.Device.CheckpointUnderRuns) || !Directory.Exists(written))
        {
            return string.Empty;
        }
        try
        {
            // The previous checkpoint takes its name back first, if the publish had set it aside: the name never
            // goes missing while the copy is deleted.
            string setAside = CheckpointManifest.SetAsideFor(target);
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

    /// <summary>Removes the run folder claimed for a checkpoint that was never written (a run that took no step).</summary>
    private void ReleaseClaim(RunSettings s)
    {
        if (_claimedFolder is not null && s.Device.CheckpointUnderRuns)
        {
            CheckpointManifest.ReleaseIfUnused(_claimedFolder);
        }
    }

    public RunSummary Describe(PipelineRun run, RunSummary summary)
    {
        RunSettings s = run.Settings;
        if (_trainer is not { } trainer)
        {
            return summary;
        }
        string? position = _checkpoint is not null && File.Exists(Path.Combine(_checkpoint, CheckpointManifest.PositionFileName)) ? Path.Combine(_checkpoint, CheckpointManifest.PositionFileName) : null;
        return summary with
        {
            Steps = trainer.StepsThisRun,
            TotalSteps = trainer.Steps,
            LossFirst = trainer.Losses.Count > 0 ? trainer.Losses[0] : null,
            LossLast = trainer.Losses.Count > 0 ? trainer.Losses[^1] : null,
            Provider = summary.Provider is null ? null : summary.Provider with { PositionSaved = position },
            Device = new DeviceReport(
                _deviceName,
                DeviceModels.Name(s, _model),
                TorchRuntime.LoadedFrom,
                trainer.BatchesWithoutTargets,
                _checkpoint,
                s.ResumeFolder,
                Downsample(trainer.Losses, 200),
                EvaluationOf(run, trainer),
                trainer.InitializedParameters is not null ? s.Device.Training.InitFrom : s.Device.PretrainedWeights ? s.Device.Pretrained : null),
        };
    }

    /// <summary>The classifier's held-out scores and its baselines (fitted now, on the training rows seen); null without held-out rows.</summary>
    private static EvaluationReport? EvaluationOf(PipelineRun run, Trainer trainer)
    {
        if (trainer.Evaluator is not { Rows: > 0 } evaluator || run.Labels is null)
        {
            return null;
        }
        var baselines = evaluator.EvaluateBaselines().ToDictionary(p => p.Key, p => new ScoreReport(p.Value.Rows, p.Value.Accuracy, p.Value.MicroF1, p.Value.MacroF1));
        return new EvaluationReport(
            run.Context?.HeldOut.Description ?? "the batches the loader marked split=eval (its --eval-split)",
            run.Labels.Names,
            evaluator.Records.Select(r => new EvaluationPoint(r.Step, r.Scores.Rows, r.Scores.Accuracy, r.Scores.MicroF1, r.Scores.MacroF1)).ToArray(),
            baselines,
            evaluator.RowsNotKept);
    }

    private static double[] Downsample(IReadOnlyList<double> values, int points)
    {
        if (values.Count <= points)
        {
            return values.ToArray();
        }
        var result = new double[points];
        for (int i = 0; i < points; i++)
        {
            result[i] = values[(int)((long)i * (values.Count - 1) / (points - 1))];
        }
        return result;
    }

    public ValueTask DisposeAsync()
    {
        _trainer?.Dispose();
        _model?.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>What the device consumers share: choosing the device and announcing the model.</summary>
internal static class DeviceModels
{
    /// <summary>Loads TorchSharp, applies --torch-threads and picks the device.</summary>
    public static torch.Device Select(DeviceRunSettings settings)
    {
        TorchRuntime.EnsureLoaded();
        if (settings.TorchThreads > 0)
        {
            torch.set_num_threads(settings.TorchThreads);
        }
        return TorchRuntime.SelectDevice(settings.Device);
    }

    /// <summary>
    /// Builds the task's model the way every run does: seeded from --seed, the preset named by --model, or the Hugging
    /// Face folder <paramref name="pretrained"/> (a task that cannot start from one is refused with a message).
    /// With <paramref name="weightsFromCheckpoint"/> the caller loads a checkpoint's weights over the folder's next.
    /// </summary>
    public static ITaskModel Build(PipelineRun run, IDeviceTask task, torch.Device device, int sequenceLength, Core.Tasks.LabelSet? labels, string? pretrained, bool weightsFromCheckpoint)
    {
        RunSettings s = run.Settings;
        HuggingFaceModelFolder? folder = pretrained is null ? null : HuggingFaceModelFolder.Open(pretrained);
        ITaskModel model = new ModelContext(run.Vocabulary, sequenceLength, s.Device.ModelSize, device, s.Seed, s.Batcher.TaskSettings)
        {
            Labels = labels,
            Pretrained = folder,
            // Weights a checkpoint replaces next are not read (a resume, infer of a run trained from the folder).
            LoadPretrainedWeights = s.Device.PretrainedWeights && !weightsFromCheckpoint,
        }.Build(task);
        if (folder is not null)
        {
            if (model is not IPretrainedModel built)
            {
                model.Dispose();
                throw new ArgumentException($"--init-from {pretrained}: task '{run.Task.Name}' cannot start from a Hugging Face model folder yet; classify, multilabel and mlm (encoders) and clm (decoders) can. --init-from also takes a StreamLoader checkpoint folder.");
            }
            run.Progress.Log(weightsFromCheckpoint ? $"model: the architecture of Hugging Face {folder.Config.Describe()} in {folder.Folder}; its weights from the checkpoint" : built.Description);
        }
        return model;
    }

    /// <summary>Logs where the model runs and its size (and why CUDA was passed over, if it was).</summary>
    public static void Describe(PipelineRun run, string deviceName, ITaskModel model)
    {
        if (TorchRuntime.CudaProblem is { } problem)
        {
            run.Progress.Log("note: CUDA is visible but could not be used, so the model runs on the CPU: " + problem);
        }
        run.Progress.Log($"device: {deviceName} ({TorchRuntime.LoadedFrom}), model {Name(run.Settings, model)}, vocab {run.Vocabulary.Size:N0}, seq {run.SequenceLength}, {ParameterCount(model):N0} parameters");
    }

    /// <summary>The model as reports name it: the --model preset, or the Hugging Face architecture it was built from.</summary>
    public static string Name(RunSettings settings, ITaskModel? model) =>
        model is IPretrainedModel pretrained ? pretrained.Folder.Config.Describe() : settings.Device.ModelSize;

    /// <summary>The model's parameters, element by element.</summary>
    public static long ParameterCount(ITaskModel model)
    {
        long parameters = 0;
        foreach (TorchSharp.Modules.Parameter p in model.Module.parameters())
        {
            parameters += p.numel();
        }
        return parameters;
    }
}
