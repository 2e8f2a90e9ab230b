namespace StreamLoader.Transport;

/// <summary>The reading side went away (a pipe's reader exited, a socket closed): normal for a consumer that takes what it needs.</summary>
public sealed class ReaderClosedException : IOException
{
    public ReaderClosedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ReaderClosedException()
    {
    }

    public ReaderClosedException(string message)
        : base(message)
    {
    }
}
