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
    private CheckpointWriter? _checkpoints;

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
        CheckpointWriter? checkpoints = CheckpointWriter.Open(s, run.RankSuffix, run.Progress.Log);
        _checkpoints = checkpoints;
        checkpoints?.Probe(CheckpointSpace.Estimate(model));
        TrainerOptions options = s.Device.Training with
        {
            InitFrom = s.Device.Training.InitFrom is { } init ? Verified(CheckpointFolders.Resolve(init)) : null,
            // The run's folder is claimed when the save comes: a run stopped before it leaves none.
            CheckpointFolder = checkpoints is null ? null : checkpoints.Stage,
            ResumeFrom = resumeFrom,
            Threads = TorchThreads.Of(s.Device.TorchThreads),
        };
        var trainer = new Trainer(model, options, device)
        {
            OnLog = r => run.Progress.Log($"step {r.Step,6}  loss {r.Loss:0.0000}  lr {r.LearningRate:0.00e+0}  {r.StepSeconds * 1000:0} ms/step"),
            OnEvaluate = e => run.Progress.Log($"eval  {e.Step,6}  held-out rows {e.Scores.Rows:N0}  accuracy {e.Scores.Accuracy:0.000}  micro-F1 {e.Scores.MicroF1:0.000}  macro-F1 {e.Scores.MacroF1:0.000}"),
        };
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
        if (_checkpoints is null || _trainer is null)
        {
            return Task.FromResult<Exception?>(null);
        }
        if (_checkpoints.DiscardFailedSave(error) is { Length: > 0 } cleaned)
        {
            // The save itself failed (a full disk, often): what it wrote is no checkpoint and would only hold the disk.
            run.Progress.Log($"checkpoint not saved{cleaned}.");
        }
        try
        {
            _checkpoints.Complete(run, _trainer);
            return Task.FromResult<Exception?>(null);
        }
        catch (CheckpointWriteException ex)
        {
            return Task.FromResult<Exception?>(ex);
        }
    }

    /// <summary>A checkpoint folder whose files its manifest vouches for (see <see cref="CheckpointManifest.Load"/>).</summary>
    private static string Verified(string folder)
    {
        _ = CheckpointManifest.Load(folder);
        return folder;
    }

    public RunSummary Describe(PipelineRun run, RunSummary summary)
    {
        RunSettings s = run.Settings;
        if (_trainer is not { } trainer)
        {
            return summary;
        }
        string? checkpoint = _checkpoints?.Published;
        string? position = checkpoint is not null && File.Exists(Path.Combine(checkpoint, CheckpointManifest.PositionFileName)) ? Path.Combine(checkpoint, CheckpointManifest.PositionFileName) : null;
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
                checkpoint,
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
        TorchThreads.Of(settings.TorchThreads).ApplyToCurrentThread();
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
