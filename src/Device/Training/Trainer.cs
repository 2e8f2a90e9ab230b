using System.Diagnostics;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>One logged optimizer step.</summary>
public sealed record StepRecord(long Step, double Loss, double LearningRate, long Tokens, double StepSeconds);

/// <summary>The device stage for training: AdamW with warm-up and linear decay, gradient clipping, one dispose scope per step.</summary>
public sealed class Trainer
{
    private readonly ITaskModel _model;
    private readonly TrainerOptions _options;
    private readonly torch.Device _device;
    private readonly AdamW _optimizer;
    private readonly List<double> _losses = [];
    private long _steps;
    private long _batchesWithoutTargets;
    private long _tokens;

    public Trainer(ITaskModel model, TrainerOptions options, torch.Device device)
    {
        options.Validate();
        _model = model;
        _options = options;
        _device = device;
        _optimizer = torch.optim.AdamW(model.Module.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
    }

    /// <summary>Called after every step the options say to log.</summary>
    public Action<StepRecord>? OnLog { get; init; }

    /// <summary>Optimizer steps taken.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Batches that had no target positions (nothing masked) and were not stepped on.</summary>
    public long BatchesWithoutTargets => Interlocked.Read(ref _batchesWithoutTargets);

    /// <summary>Non-padding tokens of the batches stepped on.</summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Every step's loss, in order.</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>The document ordinal to resume from after the last batch consumed (see <see cref="BatchMetadataKeys.ResumeOrdinal"/>), or -1.</summary>
    public long ResumeOrdinal { get; private set; } = -1;

    /// <summary>The most recent loss, or NaN before the first step.</summary>
    public double LastLoss { get; private set; } = double.NaN;

    /// <summary>Trains on batches from <paramref name="input"/> until it ends or <see cref="TrainerOptions.MaxSteps"/> is reached.</summary>
    public async Task RunAsync(StageContext stage, IBatchReader input)
    {
        _model.Module.train();
        try
        {
            await foreach (TensorBatch batch in input.ReadAllAsync(stage.CancellationToken).CountWaitsUpstream(stage.Counters, stage.CancellationToken).ConfigureAwait(false))
            {
                using (batch)
                {
                    Step(batch);
                }
                if (_options.MaxSteps is long max && Steps >= max)
                {
                    stage.StopPipeline();
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (Steps > 0)
        {
            // Interrupted (Ctrl+C) or stopped by another stage's fault: keep what was learned, then stop.
            SaveCheckpoint();
            throw;
        }
        SaveCheckpoint();
    }

    /// <summary>One optimizer step on one batch, inside its own dispose scope. Returns the loss, or null if skipped.</summary>
    public double? Step(TensorBatch batch)
    {
        long start = Stopwatch.GetTimestamp();
        if (batch.Metadata.TryGetValue(BatchMetadataKeys.ResumeOrdinal, out string? resume) && long.TryParse(resume, System.Globalization.CultureInfo.InvariantCulture, out long ordinal))
        {
            ResumeOrdinal = ordinal;
        }
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

    /// <summary>Saves the model's weights where the options say, if anywhere.</summary>
    public void SaveCheckpoint()
    {
        if (_options.CheckpointPath is not { } path)
        {
            return;
        }
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }
        _model.Module.save(path);
    }
}
