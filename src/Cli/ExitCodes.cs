using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Device.Runtime;

namespace StreamLoader.Cli;

/// <summary>Process exit codes: one per kind of outcome. README.md and <c>--help</c> list them.</summary>
public static class ExitCodes
{
    /// <summary>The run did what was asked (also when it stopped at --max-steps, or its pipe reader left early).</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug to report, with <c>STREAMLOADER_DEBUG=1</c> for the stack).</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong, or contradicts the checkpoint or frames it continues from.</summary>
    public const int UsageError = 2;

    /// <summary>The input is missing, malformed, truncated, or holds no documents; a connection dropped beyond recovery.</summary>
    public const int InputError = 3;

    /// <summary>TorchSharp could not load, or the device asked for (<c>--device cuda</c>) is not there.</summary>
    public const int DeviceError = 4;

    /// <summary>
    /// An output cannot be written. The checkpoint folder (read-only, not a folder, too little room for a checkpoint
    /// of the model): found before the first step, or at a save, which then keeps the previous checkpoint and says
    /// what was saved. A frames file, <c>tokenize --output</c> or inference results in JSON Lines or Arrow (a full
    /// disk, a missing or read-only folder).
    /// </summary>
    public const int OutputError = 5;

    /// <summary>A second Ctrl+C or SIGTERM while the run stopped: it exited at once and saved nothing more (no checkpoint is promised).</summary>
    public const int Abandoned = 6;

    /// <summary>Interrupted by Ctrl+C (SIGINT): the run finished its step, saved its checkpoint and reported (128 + 2).</summary>
    public const int Cancelled = 130;

    /// <summary>Stopped by SIGTERM (a scheduler's stop): the run finished its step, saved its checkpoint and reported (128 + 15).</summary>
    public const int Terminated = 143;

    /// <summary>The exit code for a run that ended with <paramref name="error"/>.</summary>
    public static int For(Exception error) => error switch
    {
        OperationCanceledException => Cancelled,
        CheckpointWriteException or OutputWriteException => OutputError,
        SettingsConflictException => UsageError,
        TorchLoadException or DeviceUnavailableException => DeviceError,
        SourceFormatException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or HttpRequestException or IOException => InputError,
        ArgumentException or FormatException => UsageError,
        _ => Failure,
    };
}
