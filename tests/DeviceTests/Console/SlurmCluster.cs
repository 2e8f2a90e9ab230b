using System.Diagnostics;
using System.Text.RegularExpressions;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A one-machine Slurm (Debian's slurm-wlm and munge; <c>scripts/slurm/cluster.sh</c>) started once for the tests that
/// use it and stopped after them. Where it cannot start, those tests skip (fail where everything is required) with
/// the script's words.
/// </summary>
public sealed partial class SlurmCluster : IAsyncLifetime
{
    private static readonly string s_script = Path.Combine(SharedData.RepositoryRoot, "scripts", "slurm", "cluster.sh");

    private readonly string _state = Path.Combine(Path.GetTempPath(), $"streamloader-slurm-{Environment.ProcessId}");
    private string? _problem;
    private bool _started;

    /// <summary>The slowest a test's jobs may be: each job here takes seconds, a requeue about 11 s more.</summary>
    public static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(4);

    public async Task InitializeAsync()
    {
        if (!File.Exists("/usr/sbin/slurmctld") || !File.Exists("/usr/sbin/slurmd") || !File.Exists("/usr/sbin/munged"))
        {
            _problem = "Slurm is not installed (slurmctld, slurmd, munged): .ci/run installs Debian's slurm-wlm and munge.";
            return;
        }
        var (exit, stdout, stderr) = await CliFixtures.RunProgramAsync(SharedData.RepositoryRoot, "bash", s_script, "start", _state);
        _started = exit == 0;
        if (!_started)
        {
            _problem = $"the one-machine Slurm did not start (scripts/slurm/cluster.sh start exited {exit}): {(stdout + stderr).Trim()}";
        }
    }

    public async Task DisposeAsync()
    {
        if (_started)
        {
            await CliFixtures.RunProgramAsync(SharedData.RepositoryRoot, "bash", s_script, "stop", _state);
        }
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Skips the test (fails it where everything is required) when the cluster is not running.</summary>
    public void Require() => Requirement.SkipIfMissing(_problem is not null, _problem ?? string.Empty);

    /// <summary>
    /// Runs a bash script against the cluster in <paramref name="folder"/>: <c>SLURM_CONF</c> set, no <c>SLURM_*</c>
    /// variable of the test's own environment, and <paramref name="path"/> ahead of <c>PATH</c> (where the test puts
    /// its <c>streamloader</c> and <c>python3</c>). Returns standard output; fails the test on a non-zero exit.
    /// </summary>
    public async Task<string> BashAsync(string folder, string script, IEnumerable<string> path, IReadOnlyDictionary<string, string>? variables = null)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string name in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(n => n.StartsWith("SLURM_", StringComparison.Ordinal)))
        {
            environment[name] = null;
        }
        environment["SLURM_CONF"] = Path.Combine(_state, "slurm.conf");
        environment["PATH"] = string.Join(':', [.. path, Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin"]);
        foreach ((string name, string value) in variables ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }
        var (exit, stdout, stderr) = await CliFixtures.RunProgramAsync(folder, environment, "bash", "-c", script);
        Assert.True(exit == 0, $"bash -c '{script}' exited {exit}\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>Each job (or array element) of <paramref name="job"/> and its state, as <c>squeue -t all</c> says.</summary>
    public async Task<IReadOnlyDictionary<string, string>> StatesAsync(string folder, string job)
    {
        string text = await BashAsync(folder, $"squeue -h -t all -j {job} -o '%i %T'", []);
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match line in StateLine().Matches(text))
        {
            states[line.Groups[1].Value] = line.Groups[2].Value;
        }
        return states;
    }

    /// <summary>Waits until <paramref name="done"/> holds of the job's states; fails naming them after <see cref="JobLimit"/>.</summary>
    public async Task<IReadOnlyDictionary<string, string>> WaitAsync(string folder, string job, Func<IReadOnlyDictionary<string, string>, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyDictionary<string, string> states = await StatesAsync(folder, job);
        while (!done(states))
        {
            Assert.True(clock.Elapsed < JobLimit, $"job {job}: {what} did not happen within {JobLimit.TotalMinutes} minutes; states: {string.Join(", ", states.Select(p => $"{p.Key} {p.Value}"))}");
            await Task.Delay(250);
            states = await StatesAsync(folder, job);
        }
        return states;
    }

    /// <summary>Waits until every element of <paramref name="job"/> has ended, and fails unless each COMPLETED.</summary>
    public async Task CompletedAsync(string folder, string job)
    {
        string[] ended = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"];
        IReadOnlyDictionary<string, string> states = await WaitAsync(folder, job, s => s.Count > 0 && s.Values.All(ended.Contains), "ending");
        Assert.True(states.Values.All(s => s == "COMPLETED"), $"job {job}: {string.Join(", ", states.Select(p => $"{p.Key} {p.Value}"))}; see its slurm-*.out in {folder}:\n"
            + string.Join('\n', Directory.GetFiles(folder, "slurm-*.out").Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}")));
    }

    [GeneratedRegex(@"^\s*(\S+)\s+(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex StateLine();
}
