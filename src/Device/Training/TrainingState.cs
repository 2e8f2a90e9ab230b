using System.Text.Json.Serialization;
using StreamLoader.Core.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Training;

/// <summary>
/// The device's part of a checkpoint folder: the model's weights, the optimizer's state, the random generator's
/// state and the trainer's counters. With the stream position beside it, a resumed run continues the loss curve as
/// if it had never stopped.
/// </summary>
public sealed record TrainingState
{
    /// <summary>File of the model's weights in a checkpoint folder.</summary>
    public const string ModelFile = "model.bin";

    /// <summary>File of the optimizer's state (AdamW moments and step counts).</summary>
    public const string OptimizerFile = "optimizer.bin";

    /// <summary>File of TorchSharp's CPU random generator state (dropout).</summary>
    public const string RandomFile = "rng.bin";

    /// <summary>File of this record, as JSON.</summary>
    public const string StateFile = "trainer.json";

    /// <summary>Optimizer steps taken.</summary>
    public required long Steps { get; init; }

    /// <summary>Index the next batch will carry (batch seeds derive from it).</summary>
    public required long NextBatchSequence { get; init; }

    /// <summary>Document ordinal the next batch starts in, or -1 when unknown.</summary>
    public required long ResumeOrdinal { get; init; }

    /// <summary>Tokens of that document already trained on.</summary>
    public required long ResumeOffset { get; init; }

    /// <summary>Steps the learning-rate schedule spans, as the run that saved it used.</summary>
    public long? ScheduleSteps { get; init; }

    /// <summary>The last loss, for the report.</summary>
    public double? LastLoss { get; init; }

    /// <summary>True when <paramref name="folder"/> holds a device state.</summary>
    public static bool ExistsIn(string folder) => File.Exists(Path.Combine(folder, StateFile)) && File.Exists(Path.Combine(folder, ModelFile));

    /// <summary>Reads the counters saved in <paramref name="folder"/>.</summary>
    public static TrainingState Load(string folder) => JsonFile.Read(Path.Combine(folder, StateFile), TrainingStateJsonContext.Default.TrainingState, "trainer state file");

    /// <summary>Writes the counters into <paramref name="folder"/> (atomically).</summary>
    public void Save(string folder) => JsonFile.WriteAtomic(Path.Combine(folder, StateFile), this, TrainingStateJsonContext.Default.TrainingState);

    /// <summary>Saves TorchSharp's CPU generator state into <paramref name="folder"/>.</summary>
    public static void SaveRandomState(string folder)
    {
        using Tensor state = torch.random.get_rng_state();
        File.WriteAllBytes(Path.Combine(folder, RandomFile), state.data<byte>().ToArray());
    }

    /// <summary>Restores TorchSharp's CPU generator state from <paramref name="folder"/>, when it was saved.</summary>
    public static void LoadRandomState(string folder)
    {
        string path = Path.Combine(folder, RandomFile);
        if (!File.Exists(path))
        {
            return;
        }
        using Tensor state = torch.tensor(File.ReadAllBytes(path), dtype: ScalarType.Byte);
        torch.random.set_rng_state(state);
    }
}

/// <summary>Source-generated JSON for trainer state files (snake_case).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TrainingState))]
internal sealed partial class TrainingStateJsonContext : JsonSerializerContext
{
}
