using System.CommandLine;
using System.Globalization;
using System.Text;
using Tomlyn;
using Tomlyn.Model;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// Run files: <c>--config run.toml</c> gives any option of the command in a TOML file, grouped by the service it
/// configures (<c>[source]</c>, <c>[tokenizer]</c>, <c>[task]</c>, <c>[model]</c>, <c>[trainer]</c>,
/// <c>[transport]</c>, <c>[output]</c>). Several files merge in order, and the command line overrides them all.
/// </summary>
/// <remarks>
/// A key is its option's name without the dashes, with <c>_</c> for <c>-</c>: <c>--seq-len</c> is <c>seq_len</c>.
/// Relative paths resolve against the file's folder. A file's values become the command line's tokens for the options
/// not given, and the line is parsed again, so a value from a file is checked exactly as the same flag would be.
/// </remarks>
internal static class ConfigFiles
{
    public static readonly Option<string[]> Config = new("--config")
    {
        Description = "Read options from a TOML run file (repeatable; later files override earlier ones, the command line overrides them all). " +
            "Keys are option names with _ for -, in sections [source] [tokenizer] [task] [model] [trainer] [transport] [output]; relative paths are the file's. 'streamloader config show' prints one.",
        HelpName = "FILE",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The sections, in the order a written file lists them.</summary>
    public static IReadOnlyList<string> Sections { get; } = ["source", "tokenizer", "task", "model", "trainer", "transport", "output"];

    private static readonly Lazy<Dictionary<Option, string>> s_sections = new(() =>
    {
        var map = new Dictionary<Option, string>();
        void Add(string section, IEnumerable<Option> options)
        {
            foreach (Option option in options)
            {
                map[option] = section;
            }
        }
        Add("source", [CliOptions.Source, CliOptions.Weights, CliOptions.Format, CliOptions.TextField, CliOptions.IdField, CliOptions.LabelColumn, .. CliOptions.FormatOptions, CliOptions.OnBadRecord, CliOptions.DecodeThreads, CliOptions.PartsAtOnce,
            CliOptions.ConnectTimeout, CliOptions.ResponseTimeout, CliOptions.StallTimeout, CliOptions.Epochs, CliOptions.Interleave, CliOptions.ShuffleBuffer, CliOptions.ShuffleStart, CliOptions.Rank, CliOptions.WorldSize, CliOptions.Sharding, InferCommand.KeepColumns]);
        Add("tokenizer", [CliOptions.Tokenizer, CliOptions.Vocab, CliOptions.Merges, CliOptions.LowerCase, CliOptions.Workers]);
        Add("task", [CliOptions.Task, InferCommand.Task, CliOptions.SeqLen, CliOptions.BatchSize, InferCommand.BatchSize, CliOptions.Seed, .. CliOptions.TaskFlags.Select(f => f.Option), CliOptions.Set,
            CliOptions.Labels, CliOptions.EvalSplit, CliOptions.Plugin]);
        Add("model", [CliOptions.Model, CliOptions.InitFrom, CliOptions.Device, CliOptions.TorchThreads, InferCommand.Checkpoint]);
        Add("trainer", [CliOptions.MaxSteps, CliOptions.LearningRate, CliOptions.Warmup, CliOptions.ScheduleSteps, CliOptions.Clip, CliOptions.LogEvery, CliOptions.EvalEvery, CliOptions.Checkpoint, CliOptions.Resume]);
        Add("transport", [CliOptions.All, CliOptions.Role, CliOptions.Out, CliOptions.In, CliOptions.PeerTimeout, CliOptions.ExpectConsumers, CliOptions.AckTimeout, CliOptions.MaxConsumers, CliOptions.CurveServerKey, CliOptions.CurveKeys, CliOptions.CurveKey, CliOptions.Queue]);
        Add("output", [CliOptions.Progress, CliOptions.SummaryJson, CliOptions.OutputFormat, CliOptions.Ceiling, CliOptions.Rows, CliOptions.Batches, InferCommand.Output, InferCommand.FilterBy, InferCommand.CommitEvery, InferCommand.CommitSeconds]);
        return map;
    });

    /// <summary>Options whose values are paths (or may be): relative ones in a file resolve against the file's folder.</summary>
    private static readonly Lazy<HashSet<Option>> s_paths = new(() =>
    [
        CliOptions.Source, CliOptions.Vocab, CliOptions.Merges, CliOptions.Tokenizer, CliOptions.Labels, CliOptions.Plugin, CliOptions.InitFrom, CliOptions.Checkpoint, CliOptions.Resume,
        CliOptions.SummaryJson, CliOptions.Out, CliOptions.In, InferCommand.Checkpoint, InferCommand.Output, CliOptions.CurveServerKey, CliOptions.CurveKeys, CliOptions.CurveKey,
    ]);

    /// <summary>Options a file may hold only where the file says they must already exist to be paths (names are not paths).</summary>
    private static readonly Lazy<HashSet<Option>> s_pathsIfPresent = new(() => [CliOptions.Tokenizer, CliOptions.Labels]);

    /// <summary>The section an option belongs in; every option of a command that takes <c>--config</c> has one.</summary>
    public static string SectionOf(Option option) =>
        s_sections.Value.TryGetValue(option, out string? section) ? section : throw new InvalidOperationException($"{option.Name} has no section in run files.");

    /// <summary>The section of an option by its name (the keys of a checkpoint's settings).</summary>
    public static string? SectionOfName(string name) => s_sections.Value.FirstOrDefault(p => p.Key.Name == name).Value;

    /// <summary>An option's key in a run file: <c>--seq-len</c> is <c>seq_len</c>.</summary>
    public static string KeyOf(string optionName) => optionName.TrimStart('-').Replace('-', '_');

    /// <summary>The options of <paramref name="command"/> a run file may set.</summary>
    public static IEnumerable<Option> Settable(Command command) => command.Options.Where(o => s_sections.Value.ContainsKey(o));

    /// <summary>
    /// Reads the <c>--config</c> files of <paramref name="result"/> and parses the command line again with their values
    /// for the options it did not give. Returns the new result and, for each option a file set, that file.
    /// </summary>
    public static (ParseResult Result, IReadOnlyDictionary<Option, string> FromFiles) Apply(ParseResult result)
    {
        string[] files = result.GetResult(Config) is { Implicit: false } ? result.GetValue(Config) ?? [] : [];
        if (files.Length == 0)
        {
            return (result, new Dictionary<Option, string>());
        }
        Command command = result.CommandResult.Command;
        var merged = new Dictionary<Option, (string[] Values, string File)>();
        foreach (string file in files)
        {
            foreach ((Option option, string[] values) in Read(file, command))
            {
                merged[option] = (values, file);
            }
        }
        var extra = new List<string>();
        var fromFiles = new Dictionary<Option, string>();
        foreach ((Option option, (string[] values, string file)) in merged)
        {
            if (result.GetResult(option) is { Implicit: false })
            {
                continue; // the command line wins
            }
            fromFiles[option] = file;
            foreach (string value in values)
            {
                extra.Add(option.Name);
                extra.Add(value);
            }
        }
        ParseResult applied = result.RootCommandResult.Command.Parse([.. result.Tokens.Select(t => t.Value), .. extra], CommandLineParsing.Configuration);
        if (applied.Errors.Count > 0)
        {
            throw new ArgumentException($"--config {string.Join(", ", files)}: {applied.Errors[0].Message}");
        }
        return (applied, fromFiles);
    }

    /// <summary>One run file's values as command-line text, by option. Throws <see cref="ArgumentException"/> (one line) for anything it cannot take.</summary>
    public static IReadOnlyList<(Option Option, string[] Values)> Read(string file, Command command, bool resolvePaths = true)
    {
        string full = Path.GetFullPath(file);
        if (!File.Exists(full))
        {
            throw new ArgumentException($"--config {file}: no such file.");
        }
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(full)) ?? new TomlTable();
        }
        catch (TomlException ex)
        {
            string message = System.Text.RegularExpressions.Regex.Replace(FirstLine(ex.Message), @"^\(\d+,\d+\)\s*:\s*error\s*:\s*", string.Empty);
            throw new ArgumentException($"--config {file}:{ex.Line}:{ex.Column}: not valid TOML: {message}");
        }
        var known = Settable(command).ToDictionary(o => KeyOf(o.Name), StringComparer.Ordinal);
        string folder = Path.GetDirectoryName(full)!;
        var values = new List<(Option?, string[])>();
        foreach ((string key, object? value) in table)
        {
            if (value is TomlTable section)
            {
                if (!Sections.Contains(key))
                {
                    throw new ArgumentException($"--config {file}: unknown section [{key}]{Nearest(key, Sections, s => $"; did you mean [{s}]?", ".")} The sections are {string.Join(' ', Sections.Select(s => $"[{s}]"))}.");
                }
                foreach ((string inner, object? innerValue) in section)
                {
                    values.Add(Entry(file, resolvePaths ? folder : null, key, inner, innerValue, known, command));
                }
            }
            else
            {
                values.Add(Entry(file, resolvePaths ? folder : null, null, key, value, known, command));
            }
        }
        return values.Where(v => v.Item1 is not null).Select(v => (v.Item1!, v.Item2)).ToList();
    }

    private static (Option?, string[]) Entry(string file, string? folder, string? section, string key, object? value, Dictionary<string, Option> known, Command command)
    {
        string where = section is null ? key : $"[{section}] {key}";
        if (!known.TryGetValue(key.Replace('-', '_'), out Option? option))
        {
            if (s_sections.Value.Keys.Any(o => KeyOf(o.Name) == key.Replace('-', '_')))
            {
                return (null, []); // another command's option (a training file given to bench): not this command's business
            }
            string? near = NearestKey(key, known.Keys);
            string hint = near is null ? string.Empty : $"; did you mean {near} (in [{SectionOf(known[near])}])?";
            throw new ArgumentException($"--config {file}: unknown key {where} for 'streamloader {CommandPath(command)}'{hint}");
        }
        string home = SectionOf(option);
        if (section is not null && section != home)
        {
            throw new ArgumentException($"--config {file}: {key} belongs in [{home}], not [{section}].");
        }
        string[] text = Convert(file, where, option, value);
        if (folder is not null && s_paths.Value.Contains(option))
        {
            text = text.Select(v => Resolve(folder, v, s_pathsIfPresent.Value.Contains(option))).ToArray();
        }
        return (option, text);
    }

    /// <summary>A TOML value as the option's command-line text, or a one-line error naming the type it needs.</summary>
    private static string[] Convert(string file, string where, Option option, object? value)
    {
        string Fail(string expected) => throw new ArgumentException($"--config {file}: {where} = {Show(value)}: expected {expected} (like {option.Name}).");
        switch (option)
        {
            case Option<string[]>:
                return value switch
                {
                    string s => [s],
                    TomlArray array when array.All(v => v is string) => array.Cast<string>().ToArray(),
                    _ => [Fail("a string or an array of strings")],
                };
            case Option<int> or Option<int?> or Option<long?>:
                return value is long integer ? [integer.ToString(CultureInfo.InvariantCulture)] : [Fail("an integer")];
            case Option<double> or Option<double?>:
                return value switch
                {
                    long whole => [whole.ToString(CultureInfo.InvariantCulture)],
                    double real => [real.ToString("R", CultureInfo.InvariantCulture)],
                    _ => [Fail("a number")],
                };
            case Option<bool> or Option<bool?>:
                return value is bool flag ? [flag ? "true" : "false"] : [Fail("true or false")];
            default:
                // Text options: a number is taken as written (eval_split = 0.1, mask_prob = 0.2); true/false where the option takes it (pack = true).
                return value switch
                {
                    string s => [s],
                    long n => [n.ToString(CultureInfo.InvariantCulture)],
                    double d => [d.ToString("R", CultureInfo.InvariantCulture)],
                    bool b when CliOptions.TaskFlags.Any(f => f.Option == option) || option.HelpName is { } help && help.Contains("true", StringComparison.Ordinal) => [b ? "true" : "false"],
                    _ => [Fail("a string")],
                };
        }
    }

    /// <summary>A relative path made the run file's; endpoints, URLs, '-', 'none' and names are left as they are.</summary>
    private static string Resolve(string folder, string value, bool onlyIfPresent)
    {
        if (value is "-" or "" || value.Equals("none", StringComparison.OrdinalIgnoreCase) || value.Equals("builtin", StringComparison.OrdinalIgnoreCase) || value.Contains("://", StringComparison.Ordinal))
        {
            return value;
        }
        foreach (string prefix in (string[])["unix:", "@"])
        {
            if (value.StartsWith(prefix, StringComparison.Ordinal))
            {
                return prefix + Resolve(folder, value[prefix.Length..], onlyIfPresent: false);
            }
        }
        if (Path.IsPathRooted(value))
        {
            return value;
        }
        string resolved = Path.GetFullPath(Path.Combine(folder, value));
        return !onlyIfPresent || File.Exists(resolved) || Directory.Exists(resolved) ? resolved : value;
    }

    /// <summary>
    /// The effective configuration of <paramref name="result"/> as a run file: what a file or a flag set is written out,
    /// with where it came from; defaults are written commented out, so feeding the file back changes nothing.
    /// </summary>
    public static string Show(ParseResult result, IReadOnlyDictionary<Option, string> fromFiles)
    {
        Command command = result.CommandResult.Command;
        string task = result.GetValue(CliOptions.Task) ?? "mlm";
        Dictionary<string, string?> taskFlags = Hosting.PipelineHost.Catalog.Tasks.FirstOrDefault(t => t.Name == task)?.Options.Where(o => o.Flag is not null)
            .ToDictionary(o => o.Flag!, o => (string?)o.DefaultText, StringComparer.Ordinal) ?? [];
        var text = new StringBuilder();
        text.Append("# The effective configuration of: streamloader ").Append(StreamLoader.Provider.Http.HttpCredentials.Mask(string.Join(' ', result.Tokens.Select(t => t.Value)))).Append('\n');
        text.Append("# Run it with --config FILE. Set values say where they came from; defaults are commented out.\n");
        foreach (string section in Sections)
        {
            var lines = new List<string>();
            foreach (Option option in Settable(command).Where(o => SectionOf(o) == section))
            {
                bool given = result.GetResult(option) is { Implicit: false };
                bool isTaskFlag = CliOptions.TaskFlags.Any(f => f.Option == option);
                if (isTaskFlag && !given && !taskFlags.ContainsKey(option.Name))
                {
                    continue; // another task's setting
                }
                string? value = TomlValue(result, option) ?? (isTaskFlag && taskFlags.GetValueOrDefault(option.Name) is { } taskDefault ? Quote(taskDefault) : null);
                string key = KeyOf(option.Name);
                if (given)
                {
                    string origin = fromFiles.TryGetValue(option, out string? file) ? $"from {file}" : option.Name;
                    lines.Add($"{key} = {value ?? "\"\""}  # {origin}");
                }
                else if (value is not null)
                {
                    lines.Add($"# {key} = {value}  # default");
                }
                else
                {
                    lines.Add($"# {key} =  # not set");
                }
            }
            if (lines.Count > 0)
            {
                text.Append('\n').Append('[').Append(section).Append("]\n");
                foreach (string line in lines)
                {
                    text.Append(line).Append('\n');
                }
            }
        }
        return text.ToString();
    }

    /// <summary>A checkpoint's recorded settings (option name → values) as a run file that reproduces the run's data and model.</summary>
    public static string FromSettings(IReadOnlyDictionary<string, string[]> settings, string header)
    {
        var text = new StringBuilder();
        text.Append("# ").Append(header).Append('\n');
        foreach (string section in Sections)
        {
            var entries = settings.Where(p => SectionOfName(p.Key) == section).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
            if (entries.Count == 0)
            {
                continue;
            }
            text.Append('\n').Append('[').Append(section).Append("]\n");
            foreach ((string name, string[] values) in entries)
            {
                Option option = s_sections.Value.Keys.First(o => o.Name == name);
                string value = option is Option<string[]> ? "[" + string.Join(", ", values.Select(Quote)) + "]" : values.Length == 1 ? Literal(option, values[0]) : Quote(string.Join(' ', values));
                text.Append(KeyOf(name)).Append(" = ").Append(value).Append('\n');
            }
        }
        return text.ToString();
    }

    /// <summary>Reads a run file written by <see cref="FromSettings"/> back into option name → values.</summary>
    public static Dictionary<string, string[]> ReadSettings(string file)
    {
        var settings = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var root = new RootCommand();
        foreach (Option option in s_sections.Value.Keys.DistinctBy(o => o.Name))
        {
            root.Options.Add(option);
        }
        // As recorded: the run made the paths of files it read absolute; what stayed relative (a glob) is the run's own.
        foreach ((Option option, string[] values) in Read(file, root, resolvePaths: false))
        {
            settings[option.Name] = values;
        }
        return settings;
    }

    private static string? TomlValue(ParseResult result, Option option) => option switch
    {
        Option<string[]> list => result.GetValue(list) is { } values ? "[" + string.Join(", ", values.Select(Quote)) + "]" : null,
        Option<int> n => result.GetValue(n).ToString(CultureInfo.InvariantCulture),
        Option<int?> n => result.GetValue(n)?.ToString(CultureInfo.InvariantCulture),
        Option<long?> n => result.GetValue(n)?.ToString(CultureInfo.InvariantCulture),
        Option<double> d => Float(result.GetValue(d)),
        Option<double?> d => result.GetValue(d) is double v ? Float(v) : null,
        Option<bool> b => result.GetValue(b) ? "true" : "false",
        Option<bool?> b => result.GetValue(b) is bool v ? (v ? "true" : "false") : null,
        Option<string> s => result.GetValue(s) is { } v ? Quote(v) : null,
        _ => null,
    };

    private static string Literal(Option option, string value) => option switch
    {
        Option<int> or Option<int?> or Option<long?> when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) => value,
        Option<double> or Option<double?> when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => Float(d),
        Option<bool> or Option<bool?> when value is "true" or "false" => value,
        _ => Quote(value),
    };

    private static string Float(double value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) ? text : text + ".0";
    }

    private static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (char c in StreamLoader.Provider.Http.HttpCredentials.Mask(value)) // a run file never holds a URL's password
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }
        return text.Append('"').ToString();
    }

    private static string Show(object? value) => value switch
    {
        string s => Quote(s),
        bool b => b ? "true" : "false",
        TomlArray => "[...]",
        TomlTable => "{...}",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "null",
    };

    private static string CommandPath(Command command) => command is RootCommand ? "(train)" : command.Name;

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private static string Nearest(string key, IEnumerable<string> candidates, Func<string, string> found, string none) =>
        NearestKey(key, candidates) is { } near ? found(near) : none;

    private static string? NearestKey(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates)
        {
            int distance = Distance(key.ToLowerInvariant().Replace('-', '_'), candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }
        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
