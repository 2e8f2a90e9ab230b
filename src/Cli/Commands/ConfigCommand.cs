using System.CommandLine;
using Spectre.Console;

namespace StreamLoader.Cli.Commands;

/// <summary><c>streamloader config show</c>: the effective configuration of a run (defaults, run files and flags merged) as a run file.</summary>
internal static class ConfigCommand
{
    public static Command Create(RootCommand root)
    {
        var show = new Command("show", "Print the effective configuration of the run these options describe (defaults, --config files and flags merged) as a TOML run file: " +
            "each value set says whether a file or a flag set it, and defaults are written commented out. '--config' of the output runs the same; every training run also writes one (run.toml) into its checkpoint folder.\n\n" +
            "Examples:\n" +
            "  streamloader config show --task classify --source dataset.csv --vocab vocab.txt > classify.toml\n" +
            "  streamloader --all --config classify.toml --max-steps 100      the file, with one flag on top\n" +
            "  streamloader config show --config base.toml --config small.toml   what two files merge into");
        foreach (Option option in root.Options.Where(o => o.Name != "--help" && o.Name != "--version"))
        {
            show.Options.Add(option);
        }
        show.SetAction(result =>
        {
            try
            {
                (ParseResult applied, IReadOnlyDictionary<Option, string> fromFiles) = ConfigFiles.Apply(result);
                Console.Out.Write(ConfigFiles.Show(applied, fromFiles));
                return ExitCodes.Success;
            }
            catch (ArgumentException ex)
            {
                IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
                return ExitCodes.UsageError;
            }
        });
        var config = new Command("config", "Run files: 'config show' prints the effective configuration of a run as TOML, for --config.");
        config.Subcommands.Add(show);
        return config;
    }
}
