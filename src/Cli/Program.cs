using System.CommandLine;
using StreamLoader.Cli.Commands;

namespace StreamLoader.Cli;

/// <summary>Entry point of the <c>streamloader</c> console.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        RootCommand root = PipelineCommands.CreateRoot();
        ParseResult parsed = root.Parse(args);
        try
        {
            return await parsed.InvokeAsync().ConfigureAwait(false);
        }
        finally
        {
            StreamLoader.Transport.TransportFactory.Shutdown();
        }
    }
}
