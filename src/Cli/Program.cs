using System.CommandLine;
using System.Runtime.InteropServices;
using StreamLoader.Cli.Commands;

namespace StreamLoader.Cli;

/// <summary>Entry point of the <c>streamloader</c> console.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        RootCommand root = PipelineCommands.CreateRoot();
        ParseResult parsed = root.Parse(args);

        // Ctrl+C or SIGTERM cancels the run; the pipeline then drains, saves nothing half-done, prints its summary
        // and exits with 130. A second signal is left to the runtime's default (immediate exit).
        using var cancel = new CancellationTokenSource();
        Action<PosixSignalContext> handler = context =>
        {
            if (!cancel.IsCancellationRequested)
            {
                context.Cancel = true;
                Console.Error.WriteLine($"{context.Signal}: stopping; the run will drain and report (signal again to exit now).");
                cancel.Cancel();
            }
        };
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, handler);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, handler);
        try
        {
            var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
            int exit = await parsed.InvokeAsync(invocation, cancel.Token).ConfigureAwait(false);
            return cancel.IsCancellationRequested && exit == ExitCodes.Success ? ExitCodes.Cancelled : exit;
        }
        finally
        {
            StreamLoader.Transport.TransportFactory.Shutdown();
        }
    }
}
