namespace StreamLoader.Core.Documents;

/// <summary>Thrown when an input cannot be read as the expected format. The message names the input and where in it.</summary>
public sealed class SourceFormatException : Exception
{
    public SourceFormatException(string source, string location, string problem, Exception? inner = null)
        : base($"{source}: {location}: {problem}", inner)
    {
        Source = source;
        Location = location;
        Problem = problem;
    }

    public SourceFormatException()
        : this("(unknown)", "(unknown)", "format error")
    {
    }

    public SourceFormatException(string message)
        : this("(unknown)", "(unknown)", message)
    {
    }

    public SourceFormatException(string message, Exception inner)
        : this("(unknown)", "(unknown)", message, inner)
    {
    }

    /// <summary>The file path or URL that was being read.</summary>
    public new string Source { get; }

    /// <summary>Where in the input: "line 12", "byte offset 4096", "record 7".</summary>
    public string Location { get; }

    /// <summary>What was expected and what was found.</summary>
    public string Problem { get; }
}
