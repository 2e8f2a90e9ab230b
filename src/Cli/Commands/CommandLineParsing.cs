using System.CommandLine;

namespace StreamLoader.Cli.Commands;

/// <summary>How every command line of the console is parsed, the first and a resumed run's alike.</summary>
internal static class CommandLineParsing
{
    /// <summary>
    /// No response files: an argument starting with <c>@</c> is a value as given, so <c>--source @list.txt</c> reaches
    /// the source catalog (a file listing paths and URLs) instead of being spliced into the command line as arguments.
    /// </summary>
    public static ParserConfiguration Configuration { get; } = new() { ResponseFileTokenReplacer = null };
}
