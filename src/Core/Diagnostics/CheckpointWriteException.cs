namespace StreamLoader.Core.Diagnostics;

/// <summary>A checkpoint could not be written (disk full, no permission): not an input error, and named as such.</summary>
public sealed class CheckpointWriteException : Exception
{
    public CheckpointWriteException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public CheckpointWriteException(string message)
        : base(message)
    {
    }

    public CheckpointWriteException()
        : base("A checkpoint could not be written.")
    {
    }
}
