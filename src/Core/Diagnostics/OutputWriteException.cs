namespace StreamLoader.Core.Diagnostics;

/// <summary>
/// An output cannot be written (a frames file, results, tokenized ids): the disk is full, or the folder is missing
/// or read-only. The user's output, not the input: the console exits with its own code, as for a checkpoint.
/// </summary>
public sealed class OutputWriteException : IOException
{
    public OutputWriteException(string output, Exception inner)
        : base($"{output}: the output cannot be written ({inner.Message}); check that its folder exists, is writable and has room.", inner)
    {
        Output = output;
    }

    public OutputWriteException(string message)
        : base(message)
    {
        Output = string.Empty;
    }

    public OutputWriteException()
        : this("The output cannot be written.")
    {
    }

    public OutputWriteException(string message, Exception inner, string output)
        : base(message, inner)
    {
        Output = output;
    }

    /// <summary>The output named.</summary>
    public string Output { get; }

    /// <summary>True for what a failed write or create throws: an I/O error, or a permission refused.</summary>
    public static bool IsWriteFailure(Exception error) => error is IOException and not OutputWriteException || error is UnauthorizedAccessException;
}
