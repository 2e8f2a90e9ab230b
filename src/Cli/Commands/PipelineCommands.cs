using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using StreamLoader.Cli.Hosting;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Device.Runtime;

namespace StreamLoader.Cli.Commands;

/// <summary>The commands that run the pipeline: the main job (root), <c>bench</c> and <c>inspect</c>.</summary>
internal static class PipelineCommands
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand(
            "StreamLoader streams raw text straight into training: it reads documents (Wikipedia dumps, JSONL, CSV, Arrow, Parquet; from disk or while they download), " +
            "tokenizes them in parallel, batches them by the task's rules (mlm, clm, span, classify, multilabel) and feeds a TorchSharp model, with no preprocessing step.\n\n" +
            "Examples:\n" +
            "  streamloader --task mlm --all                         train BERT-style MLM on the built-in corpus (offline)\n" +
            "  streamloader --task mlm --all --source enwiki-cirrussearch-content.json.gz --vocab vocab.txt --epochs 1\n" +
            "  streamloader --task mlm --all --source https://dumps.wikimedia.org/other/cirrussearch/<date>/enwiki-<date>-cirrussearch-content.json.gz --vocab vocab.txt\n" +
            "  streamloader --role loader --out - --vocab vocab.txt | python3 scripts/read_frames.py   (frames on a pipe)\n" +
            "  streamloader bench --source docs.jsonl --vocab vocab.txt   pipeline speed without a model\n" +
            "  streamloader inspect --source docs.jsonl                 see batches decoded back to text\n" +
            "  streamloader --task clm --all --source docs.jsonl --vocab vocab.txt   GPT-style: documents packed, no padding\n" +
            "  streamloader --task classify --all --source dataset.csv --text-column title,description --label-column tag --vocab vocab.txt\n" +
            "  streamloader --all --config examples/configs/classify-made-with-ml.toml   the same from a run file (TOML; 'streamloader config show' writes one)\n" +
            "  streamloader infer --checkpoint runs/classify --source dataset.csv --output preds.jsonl   label a corpus, one row per document\n" +
            "  streamloader tasks                                       list task plugins and their options\n\n" +
            "Each training run saves a checkpoint folder under runs/<task>/ (at the end, on Ctrl+C or SIGTERM); --resume runs/<task> continues the latest exactly.\n" +
            "Exit codes: 0 done, 1 unexpected failure, 2 usage (or settings contradicting a checkpoint or frames), 3 input (bad, truncated or empty source; dropped connection), " +
            "4 device (TorchSharp or CUDA), 5 output not writable (checkpoint folder, frames file, tokenize --output: read-only, missing or full; a checkpoint is checked before the first step), 6 a second Ctrl+C (nothing more saved), 130 Ctrl+C, 143 SIGTERM (the step in progress finished and saved).");
        foreach (Option option in CliOptions.Pipeline.Concat(CliOptions.Training))
        {
            root.Options.Add(option);
        }
        root.Options.Add(CliOptions.All);
        root.Options.Add(CliOptions.Role);
        root.Options.Add(CliOptions.Out);
        root.Options.Add(CliOptions.In);
        root.Options.Add(CliOptions.PeerTimeout);
        root.Options.Add(CliOptions.ExpectConsumers);
        root.Options.Add(CliOptions.AckTimeout);
        root.Options.Add(CliOptions.MaxConsumers);
        root.Options.Add(CliOptions.CurveServerKey);
        root.Options.Add(CliOptions.CurveKeys);
        root.Options.Add(CliOptions.CurveKey);
        root.Options.Add(ConfigFiles.Config);
        root.SetAction((result, ct) => ExecuteAsync(result, HostMode.Train, ct));

        var bench = new Command("bench", "Run provider, batcher and transport without a model, and report documents, tokens and batches per second.");
        foreach (Option option in CliOptions.Pipeline)
        {
            bench.Options.Add(option);
        }
        bench.Options.Add(CliOptions.Ceiling);
        bench.Options.Add(ConfigFiles.Config);
        bench.SetAction((result, ct) => ExecuteAsync(result, HostMode.Bench, ct));
        root.Subcommands.Add(bench);

        var inspect = new Command("inspect", "Build the first batches and print them decoded back to text, with the task's targets (MLM: the masked positions).");
        foreach (Option option in CliOptions.Pipeline)
        {
            inspect.Options.Add(option);
        }
        inspect.Options.Add(CliOptions.Rows);
        inspect.Options.Add(CliOptions.In);
        inspect.Options.Add(CliOptions.Batches);
        inspect.Options.Add(CliOptions.OutputFormat);
        inspect.Options.Add(ConfigFiles.Config);
        inspect.SetAction((result, ct) => ExecuteAsync(result, HostMode.Inspect, ct));
        root.Subcommands.Add(inspect);

        root.Subcommands.Add(InferCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create(root));
        root.Subcommands.Add(TasksCommand.Create());
        root.Subcommands.Add(ScanCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        return root;
    }

    private static Task<int> ExecuteAsync(ParseResult result, HostMode mode, CancellationToken cancellationToken) =>
        ExecuteAsync(result, mode, r => CommandLineSettings.From(r, training: mode == HostMode.Train), cancellationToken);

    /// <summary>Reads the settings with <paramref name="read"/>, runs the host, writes the reports and returns the exit code.</summary>
    public static async Task<int> ExecuteAsync(ParseResult result, HostMode mode, Func<ParseResult, RunSettings> read, CancellationToken cancellationToken)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
        {
            // In a log, a line is a line: an error message wrapped at 80 columns cannot be searched for or copied.
            console.Profile.Width = 4096;
        }
        RunSettings settings;
        try
        {
            (result, _) = ConfigFiles.Apply(result);
            settings = read(result);
            _ = mode == HostMode.Inspect && CliOptions.WantsJson(result); // a bad --output-format is a usage error now
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            console.MarkupLine("Run 'streamloader --help' for the options.");
            return ExitCodes.UsageError;
        }
        catch (Exception ex)
        {
            // --resume of a missing or contradicting checkpoint.
            return Fail(console, ex);
        }

        // An option with a default always has a result; only one that is not implicit was given.
        if (mode == HostMode.Inspect && result.GetResult(CliOptions.In) is { Implicit: false })
        {
            // inspect --in FILE decodes frames written by a loader instead of building batches.
            settings = settings with { Transport = settings.Transport with { Role = RunRole.Device } };
        }

        string progressMode = mode == HostMode.Inspect && result.GetResult(CliOptions.Progress) is null or { Implicit: true } ? "none" : settings.Reporting.Progress;
        IProgressView progress;
        try
        {
            progress = ProgressViews.Create(progressMode, Console.Error);
        }
        catch (ArgumentException ex)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            return ExitCodes.UsageError;
        }
        var host = new PipelineHost(settings, mode, progress, Console.Out)
        {
            InspectBatches = mode == HostMode.Inspect ? result.GetValue(CliOptions.Batches) : 0,
            InspectRows = mode == HostMode.Inspect ? result.GetValue(CliOptions.Rows) : 0,
            InspectJson = mode == HostMode.Inspect && CliOptions.WantsJson(result),
            MeasureCeiling = mode == HostMode.Bench && result.GetValue(CliOptions.Ceiling),
        };

        RunSummary summary;
        Exception? error;
        try
        {
            (summary, error) = await host.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await progress.DisposeAsync().ConfigureAwait(false);
            return Fail(console, ex);
        }

        if (settings.Reporting.SummaryJson is { } path)
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }
            // Written even when the run was cancelled: the report says how far it got.
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(summary, SummaryJsonContext.Default.RunSummary), CancellationToken.None).ConfigureAwait(false);
        }
        if (mode != HostMode.Inspect || error is not null)
        {
            HumanSummary.Write(summary, console);
        }
        return error is null ? ExitCodes.Success : Fail(console, error, alreadyReported: true);
    }

    private static int Fail(IAnsiConsole console, Exception error, bool alreadyReported = false)
    {
        Exception root = error is PipelineStageException { InnerException: { } inner } ? inner : error;
        if (root is OperationCanceledException)
        {
            console.MarkupLine("[yellow]cancelled[/]");
            return ExitCodes.Cancelled;
        }
        if (!alreadyReported)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(CommandErrors.Message(root))}");
        }
        if (Environment.GetEnvironmentVariable("STREAMLOADER_DEBUG") == "1")
        {
            console.WriteLine(error.ToString());
        }
        return ExitCodes.For(root);
    }
}
