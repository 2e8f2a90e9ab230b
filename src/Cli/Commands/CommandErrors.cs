namespace StreamLoader.Cli.Commands;

/// <summary>How the commands tell a user what went wrong: one message form and one exit code per kind of failure.</summary>
internal static class CommandErrors
{
    /// <summary>The message a user sees: an argument error's without .NET's " (Parameter 'x')" suffix.</summary>
    public static string Message(Exception error) =>
        error is ArgumentException { ParamName: { } name } ? error.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : error.Message;

    /// <summary>For the commands that print plain lines (scan, tokenize): one line on standard error, and the exit code.</summary>
    public static int Report(Exception error)
    {
        Console.Error.WriteLine(error is OperationCanceledException ? "cancelled" : "error: " + Message(error));
        return ExitCodes.For(error);
    }
}
