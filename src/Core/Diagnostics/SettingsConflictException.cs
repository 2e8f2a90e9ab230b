namespace StreamLoader.Core.Diagnostics;

/// <summary>
/// The settings given contradict what the run continues from or consumes: a checkpoint being resumed, a saved
/// stream position, or the frames a device reads. The message lists every difference on one line.
/// </summary>
public sealed class SettingsConflictException : Exception
{
    public SettingsConflictException(string message)
        : base(message)
    {
    }

    public SettingsConflictException()
        : base("The settings contradict what the run continues from.")
    {
    }

    public SettingsConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
