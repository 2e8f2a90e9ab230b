using System.Diagnostics;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Evaluation;
using StreamLoader.Device.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>One logged optimizer step.</summary>
public sealed record StepRecord(long Step, double Loss, double LearningRate, long Tokens, double StepSeconds);

/// <summary>The device stage for training: AdamW with warm-up and linear decay, gradient clipping, one dispose scope per step.</summary>
public sealed class Trainer : IDisposable
{
    private readonly ITaskModel _model;
    private readonly TrainerOptions _options;
    private readonly torch.Device _device;
    private readonly AdamW _optimizer;
    private readonly List<double> _losses = [];
    private readonly long _stepsBefore;
    private long _steps;
    private long _batchesWithoutTargets;
    private long _tokens;
    private readonly HeldOutEvaluator? _evaluator;

    /// <summary>Creates the optimizer for <paramref name="model"/>; with <see cref="TrainerOptions.ResumeFrom"/>, restores the model, optimizer, generator and counters saved there.</summary>
    public Trainer(ITaskModel model, TrainerOptions options, torch.Device device)
    {
        options.Validate();
        _model = model;
        _options = options;
        _device = device;
        _optimizer = torch.optim.AdamW(model.Module.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
        if (model is IClassifierModel classifier)
        {
            _evaluator = new HeldOutEvaluator(classifier.Labels, classifier.MultiLabel, classifier.Threshold);
        }
        if (options.InitFrom is { } init && options.ResumeFrom is null)
        {
            InitializedParameters = InitializeFrom(model, init);
        }
        if (options.ResumeFrom is { } folder)
        {
            TrainingState state = TrainingState.Load(folder);
            model.Module.load(Path.Combine(folder, TrainingState.ModelFile));
            _optimizer.load_state_dict(Path.Combine(folder, TrainingState.OptimizerFile));
            TrainingState.LoadRandomState(folder);
            _steps = _stepsBefore = state.Steps;
            NextBatchSequence = state.NextBatchSequence;
            ResumeOrdinal = state.ResumeOrdinal;
            ResumeOffset = state.ResumeOffset;
        }
    }

    /// <summary>Parameters copied from <see cref="TrainerOptions.InitFrom"/>, out of all the model has; null without it.</summary>
    public (int Loaded, int Total)? InitializedParameters { get; }

    /// <summary>The held-out evaluation of a classifier (its records and baselines); null for other models.</summary>
    public HeldOutEvaluator? Evaluator => _evaluator;

    /// <summary>Called after each evaluation on the held-out batches.</summary>
    public Action<EvaluationRecord>? OnEvaluate { get; init; }

    /// <summary>Called after every step the options say to log.</summary>
    public Action<StepRecord>? OnLog { get; init; }

    /// <summary>Optimizer steps taken, counting those of the run resumed from.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Optimizer steps taken by this run.</summary>
    public long StepsThisRun => Steps - _stepsBefore;

    /// <summary>Index the next batch will carry: one past the last batch consumed.</summary>
    public long NextBatchSequence { get; private set; }

    /// <summary>Tokens of the document at <see cref="ResumeOrdinal"/> already consumed (see <see cref="BatchMetadataKeys.ResumeOffset"/>).</summary>
    public long ResumeOffset { get; private set; }

    /// <summary>The checkpoint folder written, or null while none was.</summary>
    public string? SavedCheckpoint { get; private set; }

    /// <summary>Batches that had no target positions (nothing masked) and were not stepped on.</summary>
    public long BatchesWithoutTargets => Interlocked.Read(ref _batchesWithoutTargets);

    /// <summary>Non-padding tokens of the batches stepped on by this run.</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Every step's loss, in order.</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>The document ordinal to resume from after the last batch consumed (see <see cref="BatchMetadataKeys.ResumeOrdinal"/>), or -1.</summary>
    public long ResumeOrdinal { get; private set; } = -1;

    /// <summary>The loader's stream position after the last batch consumed, when the batches came from another process; else null.</summary>
    public string? ResumePosition { get; private set; }

    /// <summary>The most recent loss, or NaN before the first step.</summary>
    public double LastLoss { get; private set; } = double.NaN;

    /// <summary>Trains on batches from <paramref name="input"/> until it ends or <see cref="TrainerOptions.MaxSteps"/> is reached.</summary>
    public async Task RunAsync(StageContext stage, IBatchReader input)
    {
        _model.Module.train();
        bool stepping = false;
        try
        {
            if (MaxStepsReached)
            {
                // A resumed run that had already reached the limit: nothing to do.
                stage.StopPipeline();
                return;
            }
            await foreach (TensorBatch batch in input.ReadCountedAsync(stage).ConfigureAwait(false))
            {
                if (HeldOutEvaluator.IsHeldOut(batch))
                {
                    if (_evaluator is null)
                    {
                        batch.Dispose();
                    }
                    else
                    {
                        _evaluator.Keep(batch);
                    }
                    continue;
                }
                using (batch)
                {
                    stepping = true;
                    Step(batch);
                    stepping = false;
                }
                if (_evaluator is not null && StepsThisRun > 0 && Steps % _options.EvalEvery == 0)
                {
                    Evaluate();
                }
                if (MaxStepsReached)
                {
                    stage.StopPipeline();
                    break;
                }
            }
        }
        catch (Exception) when (!stepping)
        {
            // Interrupted (Ctrl+C), stopped by another stage's fault, or the input failed (a loader's error frame, a
            // dead peer): keep what was learned, then stop. A failed step (a NaN loss) may have spoiled the weights,
            // so that one saves nothing.
            SaveCheckpoint();
            throw;
        }
        if (_evaluator is not null && StepsThisRun > 0 && _evaluator.Records.LastOrDefault()?.Step != Steps)
        {
            Evaluate();
        }
        SaveCheckpoint();
    }

    /// <summary>Evaluates the classifier on the held-out batches kept so far (nothing for other models or before any).</summary>
    public EvaluationRecord? Evaluate()
    {
        if (_evaluator is null || _model is not IClassifierModel classifier)
        {
            return null;
        }
        _options.Threads.ApplyToCurrentThread();
        EvaluationRecord? record = _evaluator.Evaluate(classifier, _device, Steps);
        if (record is not null)
        {
            OnEvaluate?.Invoke(record);
        }
        return record;
    }

    /// <summary>Frees the held-out batches kept for evaluation (the model is its owner's).</summary>
    public void Dispose() => _evaluator?.Dispose();

    /// <summary>Copies the parameters of <paramref name="folder"/>'s model whose names and shapes match; the rest keep their initialisation.</summary>
    private static (int Loaded, int Total) InitializeFrom(ITaskModel model, string folder)
    {
        string path = Path.Combine(folder, TrainingState.ModelFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--init-from {folder}: no {TrainingState.ModelFile} there; give a checkpoint folder a training run wrote.", path);
        }
        var loaded = new Dictionary<string, bool>();
        var own = model.Module.state_dict();
        try
        {
            model.Module.load(path, strict: false, loadedParameters: loaded);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"--init-from {folder}: its model does not fit this one ({ex.Message}). Use the same --model size and a --seq-len no longer than the pretrained one's.", ex);
        }
        int count = loaded.Count(p => p.Value && own.ContainsKey(p.Key));
        if (count == 0)
        {
            throw new InvalidDataException($"--init-from {folder}: none of its parameters match this model's names ({string.Join(", ", own.Keys.Take(3))}, …).");
        }
        return (count, own.Count);
    }

    private bool MaxStepsReached => _options.MaxSteps is long max && Steps >= max;

    /// <summary>One optimizer step on one batch, inside its own dispose scope. Returns the loss, or null if skipped.</summary>
    public double? Step(TensorBatch batch)
    {
        long start = Stopwatch.GetTimestamp();
        if (batch.Metadata.TryGetValue(BatchMetadataKeys.ResumeOrdinal, out string? resume) && long.TryParse(resume, System.Globalization.CultureInfo.InvariantCulture, out long ordinal))
        {
            ResumeOrdinal = ordinal;
            ResumeOffset = batch.Metadata.TryGetValue(BatchMetadataKeys.ResumeOffset, out string? offset) && long.TryParse(offset, System.Globalization.CultureInfo.InvariantCulture, out long tokens) ? tokens : 0;
            ResumePosition = batch.Metadata.GetValueOrDefault(BatchMetadataKeys.ResumePosition);
        }
        NextBatchSequence = batch.Sequence + 1;
        _evaluator?.Baselines.Observe(batch);
        _options.Threads.ApplyToCurrentThread();
        using DisposeScope scope = torch.NewDisposeScope();
        DeviceBatch inputs = DeviceBatch.From(batch, _device);
        Tensor? loss = _model.ComputeLoss(inputs);
        if (loss is null)
        {
            Interlocked.Increment(ref _batchesWithoutTargets);
            return null;
        }
        double rate = _options.LearningRate * _options.RateFactor(_steps);
        foreach (ParamGroup group in _optimizer.ParamGroups)
        {
            group.LearningRate = rate;
        }
        _optimizer.zero_grad();
        loss.backward();
        if (_options.ClipNorm > 0)
        {
            torch.nn.utils.clip_grad_norm_(_model.Module.parameters(), _options.ClipNorm);
        }
        _optimizer.step();
        double value = loss.item<float>();
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            throw new InvalidOperationException($"The loss became {value} at step {_steps + 1} (batch {batch.Sequence}); lower --lr or check the data.");
        }
        _losses.Add(value);
        LastLoss = value;
        long step = Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _tokens, batch.TokenCount);
        if (step % _options.LogEvery == 0 || step == 1)
        {
            OnLog?.Invoke(new StepRecord(step, value, rate, batch.TokenCount, Stopwatch.GetElapsedTime(start).TotalSeconds));
        }
        return value;
    }

    /// <summary>
    /// Saves the model, optimizer, generator and counters into the options' checkpoint folder, if any, and only when
    /// this run took a step: a run that learned nothing leaves no checkpoint. Returns the folder, or null.
    /// </summary>
    public string? SaveCheckpoint()
    {
        if (_options.CheckpointFolder is not { } stage || StepsThisRun == 0)
        {
            return null;
        }
        string folder = "the checkpoint folder";
        try
        {
            folder = stage();
            Directory.CreateDirectory(folder);
            _model.Module.save(Path.Combine(folder, TrainingState.ModelFile));
            _optimizer.save_state_dict(Path.Combine(folder, TrainingState.OptimizerFile));
            TrainingState.SaveRandomState(folder);
            new TrainingState
            {
                Steps = Steps,
                NextBatchSequence = NextBatchSequence,
                ResumeOrdinal = ResumeOrdinal,
                ResumeOffset = ResumeOffset,
                ScheduleSteps = _options.ScheduleSteps ?? _options.MaxSteps,
                LastLoss = double.IsNaN(LastLoss) ? null : LastLoss,
            }.Save(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointWriteException($"{folder}: the checkpoint could not be written: {ex.Message}", ex);
        }
        SavedCheckpoint = folder;
        return folder;
    }
}
