using System.Diagnostics;
using System.Text;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// Runs the built <c>streamloader</c> as a separate process, the way a user runs it from a shell: its own working
/// folder, no terminal (standard input closed, output redirected), real signals.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process)
    {
        _process = process;
    }

    /// <summary>
    /// The console's entry assembly, built next to the tests; <c>STREAMLOADER_TEST_CLI</c> names another build, so
    /// the same tests can be run against an older console to show what they catch.
    /// </summary>
    public static string Dll => Environment.GetEnvironmentVariable("STREAMLOADER_TEST_CLI") is { Length: > 0 } other ? other : Path.Combine(AppContext.BaseDirectory, "streamloader.dll");

    /// <summary>Standard output so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Standard error so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts <c>streamloader args</c> in <paramref name="workingDirectory"/>.</summary>
    public static CliProcess Start(string workingDirectory, params string[] args)
    {
        // A shell starts background jobs with SIGINT ignored, and a process inherits that (so a test run from a
        // backgrounded CI script could not Ctrl+C its child): start it with the default handling, as a terminal does.
        var info = new ProcessStartInfo("env")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--default-signal=INT,TERM");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Dll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => Append(cli._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(cli._stderr, e.Data);
        process.Exited += (_, _) => cli._exited.TrySetResult();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs <c>streamloader args</c> to its end (killed, and the test failed, after <paramref name="timeout"/>).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        using CliProcess cli = Start(workingDirectory, args);
        int exit = await cli.WaitAsync(timeout);
        return (exit, cli.Stdout, cli.Stderr);
    }

    /// <summary>Waits until stderr or stdout contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Stderr.Contains(text, StringComparison.Ordinal) && !Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"streamloader exited ({_process.ExitCode}) before printing '{text}'.\nstderr:\n{Stderr}");
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"streamloader did not print '{text}' within {timeout.TotalSeconds:0} s.\nstderr:\n{Stderr}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The process id (the dotnet host running the console).</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Kills the process with SIGKILL (a crash: no handler runs); false when it had already exited.</summary>
    public bool Kill()
    {
        if (_process.HasExited)
        {
            return false;
        }
        try
        {
            // The CLI runs under env(1) with exec semantics: the process is the dotnet host itself.
            _process.Kill(entireProcessTree: true);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Sends a POSIX signal (INT, TERM) to the process.</summary>
    public void Signal(string name)
    {
        using Process kill = Process.Start("kill", ["-s", name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Waits for the exit code; kills the process and fails after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"streamloader {string.Join(' ', _process.StartInfo.ArgumentList.Skip(3))} did not end within {timeout.TotalSeconds:0} s (it hung).\nstderr:\n{Stderr}");
        }
        _process.WaitForExit(); // flushes the output events
        return _process.ExitCode;
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
