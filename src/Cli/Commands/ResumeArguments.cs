using System.CommandLine;
using System.Globalization;
using StreamLoader.Cli.Checkpoints;
using StreamLoader.Core.Diagnostics;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// Carries a run's settings into the run that resumes it: the settings saved in a checkpoint become the values of
/// the options not given again, and a given option that contradicts the checkpoint is one clear error.
/// </summary>
internal static class ResumeArguments
{
    /// <summary>Settings that shape the data or the model: given again, they must be what the checkpoint says.</summary>
    private static Option[] MustMatch =>
    [
        CliOptions.Task, CliOptions.Source, CliOptions.Weights, CliOptions.Format, CliOptions.TextField, CliOptions.IdField, CliOptions.LabelColumn, .. CliOptions.FormatOptions, CliOptions.Tokenizer,
        CliOptions.Vocab, CliOptions.Merges, CliOptions.LowerCase, CliOptions.SeqLen, CliOptions.BatchSize, CliOptions.Seed,
        .. CliOptions.TaskFlags.Select(f => f.Option), CliOptions.Set, CliOptions.Labels, CliOptions.EvalSplit, CliOptions.Interleave, CliOptions.ShuffleBuffer, CliOptions.Sharding, CliOptions.Rank, CliOptions.WorldSize, CliOptions.Model,
        CliOptions.InitFrom,
    ];

    /// <summary>Settings a resumed run takes from the checkpoint unless given again, when they may change.</summary>
    private static Option[] Defaults => [CliOptions.Epochs, CliOptions.MaxSteps, CliOptions.ScheduleSteps, CliOptions.LearningRate, CliOptions.Warmup, CliOptions.Clip];

    /// <summary>The effective value of every saved setting of <paramref name="result"/>, by option name.</summary>
    public static Dictionary<string, string[]> Capture(ParseResult result)
    {
        var saved = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (Option option in MustMatch.Concat(Defaults))
        {
            if (Has(result, option) && Values(result, option) is { } values)
            {
                saved[option.Name] = values;
            }
        }
        return saved;
    }

    /// <summary>
    /// Re-parses the command line with the checkpoint's settings filling the options not given. Throws
    /// <see cref="SettingsConflictException"/> listing every given option that contradicts the checkpoint.
    /// </summary>
    /// <param name="result">The command line as given.</param>
    /// <param name="manifest">The checkpoint's manifest.</param>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="notCarried">Settings the checkpoint does not decide for this run (a re-dealt run's rank and world size).</param>
    public static ParseResult Apply(ParseResult result, CheckpointManifest manifest, string folder, IReadOnlyCollection<Option>? notCarried = null) =>
        Apply(result, manifest.ReadSettings(folder), [.. MustMatch.Except(notCarried ?? [])], Defaults, $"--resume {folder}", "Leave these options out to continue as the checkpoint was made, or start a new run.");

    /// <summary>Settings inference takes from the checkpoint it runs: they shape the ids and the model, so given again they must agree.</summary>
    private static Option[] InferenceMustMatch => [CliOptions.Tokenizer, CliOptions.Vocab, CliOptions.Merges, CliOptions.LowerCase, CliOptions.Model, CliOptions.InitFrom];

    /// <summary>Settings inference takes from the checkpoint unless given: the sequence length (no longer than trained), the columns, the threshold.</summary>
    private static Option[] InferenceDefaults => [CliOptions.SeqLen, CliOptions.TextField, CliOptions.IdField, .. CliOptions.TaskFlags.Where(f => f.Key == Core.Tasks.MultiLabelOptions.Threshold.Key).Select(f => f.Option)];

    /// <summary>
    /// Re-parses an <c>infer</c> command line with the tokenizer, model and column settings of the checkpoint it
    /// runs; throws <see cref="SettingsConflictException"/> for a given tokenizer or model option that contradicts it.
    /// </summary>
    public static ParseResult ApplyForInference(ParseResult result, CheckpointManifest manifest, string folder) =>
        Apply(result, manifest.ReadSettings(folder), InferenceMustMatch, InferenceDefaults, $"--checkpoint {folder}", "Leave these options out: inference takes them from the checkpoint.");

    private static ParseResult Apply(ParseResult result, IReadOnlyDictionary<string, string[]> settings, Option[] mustMatch, Option[] defaults, string what, string advice)
    {
        var conflicts = new List<string>();
        var extra = new List<string>();
        foreach (Option option in mustMatch.Concat(defaults))
        {
            if (!Has(result, option))
            {
                continue;
            }
            if (!settings.TryGetValue(option.Name, out string[]? saved))
            {
                // The run left it unset (a library default); setting it now changes the data.
                if (mustMatch.Contains(option) && result.GetResult(option) is { Implicit: false })
                {
                    conflicts.Add($"{option.Name} {Show(Values(result, option))} (the checkpoint's run left it unset)");
                }
                continue;
            }
            if (result.GetResult(option) is { Implicit: false })
            {
                string[]? given = Values(result, option);
                if (mustMatch.Contains(option) && !(given ?? []).SequenceEqual(saved))
                {
                    conflicts.Add($"{option.Name} {Show(given)} (the checkpoint has {Show(saved)})");
                }
                continue;
            }
            foreach (string value in saved)
            {
                extra.Add(option.Name);
                extra.Add(value);
            }
        }
        if (conflicts.Count > 0)
        {
            throw new SettingsConflictException($"{what}: {string.Join("; ", conflicts)}. {advice}");
        }
        IEnumerable<string> tokens = result.Tokens.Select(t => t.Value);
        return result.RootCommandResult.Command.Parse([.. tokens, .. extra], CommandLineParsing.Configuration);
    }

    private static bool Has(ParseResult result, Option option) => result.CommandResult.Command.Options.Contains(option);

    private static string Show(string[]? values) => values is null || values.Length == 0 ? "(none)" : string.Join(' ', values);

    /// <summary>An option's effective value as command-line text; paths of existing files made absolute.</summary>
    private static string[]? Values(ParseResult result, Option option)
    {
        string? one = option switch
        {
            Option<string[]> => null,
            Option<string> text => result.GetValue(text) is { } s && (option == CliOptions.Vocab || option == CliOptions.Merges || option == CliOptions.Tokenizer) && (File.Exists(s) || Directory.Exists(s)) ? Path.GetFullPath(s) : result.GetValue(text),
            Option<int> number => result.GetValue(number).ToString(CultureInfo.InvariantCulture),
            Option<int?> number => result.GetValue(number)?.ToString(CultureInfo.InvariantCulture),
            Option<long?> number => result.GetValue(number)?.ToString(CultureInfo.InvariantCulture),
            Option<double> number => result.GetValue(number).ToString("R", CultureInfo.InvariantCulture),
            Option<double?> number => result.GetValue(number)?.ToString("R", CultureInfo.InvariantCulture),
            Option<bool?> flag => result.GetValue(flag) is bool b ? (b ? "true" : "false") : null,
            _ => throw new InvalidOperationException($"{option.Name}: no resume formatting for {option.GetType().Name}."),
        };
        if (option is Option<string[]> list)
        {
            string[] values = result.GetValue(list) ?? [];
            return option == CliOptions.Source ? values.Select(v => File.Exists(v) || Directory.Exists(v) ? Path.GetFullPath(v) : v).ToArray() : values;
        }
        return one is null ? null : [one];
    }
}
