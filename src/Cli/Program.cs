using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;
using StreamLoader.Cli.Commands;

namespace StreamLoader.Cli;

/// <summary>Entry point of the <c>streamloader</c> console.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            // Plugins first: their tasks and task options become part of the command line.
            Hosting.TaskPlugins.Load(Hosting.TaskPlugins.FindPluginArguments(args));
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return ExitCodes.UsageError;
        }
        RootCommand root = PipelineCommands.CreateRoot();
        ParseResult parsed = root.Parse(RouteInferenceTasks(root, args), CommandLineParsing.Configuration);
        if (parsed.Errors.Count > 0)
        {
            // A usage error: say what is wrong in a line or two, not the whole help.
            foreach (ParseError error in parsed.Errors)
            {
                Console.Error.WriteLine("error: " + error.Message);
            }
            string command = string.Join(' ', parsed.CommandResult.Command.Name == root.Name ? ["streamloader"] : ["streamloader", parsed.CommandResult.Command.Name]);
            Console.Error.WriteLine($"Run '{command} --help' for the options.");
            return ExitCodes.UsageError;
        }

        // Ctrl+C or SIGTERM cancels the run: it finishes the step in progress, saves its checkpoint, prints its summary
        // and exits with 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once, saying that nothing more is
        // saved, with a code that promises no checkpoint.
        using var cancel = new CancellationTokenSource();
        int signalExit = ExitCodes.Cancelled;
        Action<PosixSignalContext> handler = context =>
        {
            context.Cancel = true;
            if (!cancel.IsCancellationRequested)
            {
                signalExit = context.Signal == PosixSignal.SIGTERM ? ExitCodes.Terminated : ExitCodes.Cancelled;
                Console.Error.WriteLine($"{context.Signal}: stopping after the step in progress; the run will save and report (signal again to exit at once, without saving).");
                cancel.Cancel();
                return;
            }
            Console.Error.WriteLine($"{context.Signal} again: exiting at once (exit {ExitCodes.Abandoned}); nothing more is saved, so the work since the last checkpoint written is lost.");
            Console.Error.Flush();
            ImmediateExit.Now(ExitCodes.Abandoned);
        };
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, handler);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, handler);
        try
        {
            var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
            int exit = await parsed.InvokeAsync(invocation, cancel.Token).ConfigureAwait(false);
            return cancel.IsCancellationRequested && exit is ExitCodes.Success or ExitCodes.Cancelled ? signalExit : exit;
        }
        finally
        {
            StreamLoader.Transport.Catalog.TransportCatalog.Default.ReleaseIdle();
        }
    }

    /// <summary>
    /// <c>--task NAME</c> on the root command, where NAME is a task of mode infer, runs the <c>infer</c> command with the
    /// same arguments: a task's mode, not a special case, says which kind of run it is.
    /// </summary>
    private static string[] RouteInferenceTasks(RootCommand root, string[] args)
    {
        if (args.Length == 0 || root.Subcommands.Any(c => c.Name == args[0]))
        {
            return args;
        }
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] is "--task" or "-t" && Hosting.TaskPlugins.Catalog.Tasks.FirstOrDefault(t => t.Name == args[i + 1]) is { Mode: Core.Tasks.TaskMode.Infer })
            {
                return ["infer", .. args];
            }
        }
        return args;
    }
}
