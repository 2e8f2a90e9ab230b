using StreamLoader.Device.Runtime;

namespace StreamLoader.Device.Training;

/// <summary>Optimizer, schedule and logging settings for <see cref="Trainer"/>. Validated at construction.</summary>
public sealed record TrainerOptions
{
    /// <summary>Stop after this many optimizer steps; null trains until the data ends.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Linear warm-up steps from 0 to the peak rate.</summary>
    public int WarmupSteps { get; init; } = 20;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Clip the global gradient norm to this value; 0 disables clipping.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Log the loss every this many steps.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Steps the learning-rate schedule spans (decay to 0 at its end); null uses <see cref="MaxSteps"/>.</summary>
    /// <remarks>Set it when one training run is split into several resumed jobs, each with its own <see cref="MaxSteps"/>.</remarks>
    public long? ScheduleSteps { get; init; }

    /// <summary>
    /// Gives the folder to save the checkpoint into (model, optimizer, generator, counters), asked when the save comes
    /// (after a step), so whoever owns the checkpoint claims its folder only then; null saves nothing.
    /// </summary>
    public Func<string>? CheckpointFolder { get; init; }

    /// <summary>A checkpoint folder to continue from; null starts afresh.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>A checkpoint folder whose model weights initialise this run's model where names and shapes match (fine-tuning a pretrained body); null for none.</summary>
    public string? InitFrom { get; init; }

    /// <summary>The CPU threads each step computes with, on whichever thread it runs.</summary>
    public TorchThreads Threads { get; init; } = TorchThreads.Default;

    /// <summary>Evaluate a classifier on its held-out batches every this many steps (and always at the end).</summary>
    public int EvalEvery { get; init; } = 100;

    /// <summary>Throws on settings that cannot work.</summary>
    public void Validate()
    {
        if (LearningRate <= 0 || double.IsNaN(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(ClipNorm);
        ArgumentOutOfRangeException.ThrowIfLessThan(LogEvery, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(EvalEvery, 1);
        if (MaxSteps is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "--max-steps must be at least 1.");
        }
        if (ScheduleSteps is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ScheduleSteps), ScheduleSteps, "--schedule-steps must be at least 1.");
        }
    }

    /// <summary>
    /// The multiplier of the peak rate at a step: linear warm-up, then linear decay to 0 at <see cref="ScheduleSteps"/>
    /// (or <see cref="MaxSteps"/>) when it is known; constant after warm-up otherwise (a stream's length is not known in advance).
    /// </summary>
    public double RateFactor(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps)
        {
            return (step + 1) / (double)WarmupSteps;
        }
        if ((ScheduleSteps ?? MaxSteps) is long total && total > WarmupSteps)
        {
            return Math.Max(0.0, (total - step) / (double)(total - WarmupSteps));
        }
        return 1.0;
    }
}
