using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests.Console;

/// <summary>What the console tests share: their time limit, small inputs, the one classifier they infer with, and programs run to their end.</summary>
public static class CliFixtures
{
    /// <summary>How long one console run may take before the test calls it hung.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>A JSON Lines file of <paramref name="documents"/> documents of the test words.</summary>
    public static string Jsonl(TempFiles files, string name, int documents, int words = 30) =>
        files.WriteText(name, string.Concat(Enumerable.Range(0, documents).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(words, i)}\"}}\n")));

    /// <summary>
    /// A JSON Lines file of documents labelled for every task: a "label" of a or b, or for multilabel a, b or both;
    /// document i has <paramref name="words"/>(i) test words.
    /// </summary>
    public static string LabelledJsonl(TempFiles files, string task, int documents, Func<int, int> words) =>
        files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, documents).Select(i =>
            $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(words(i), i)}\",\"label\":\"{(i % 3 == 0 ? "a" : i % 3 == 1 || task == "classify" ? "b" : "a,b")}\"}}\n")));

    /// <summary>Every training task, for a theory that runs each.</summary>
    public static TheoryData<string> EveryTrainingTask => new() { "mlm", "clm", "span", "classify", "multilabel" };

    /// <summary>The label options a classification task needs for <see cref="LabelledJsonl"/> (none for the others).</summary>
    public static string[] LabelArgs(string task) =>
        task is "classify" or "multilabel" ? ["--label-column", "label", "--labels", "a,b", "--eval-split", "0"] : [];

    /// <summary>A small WordPiece vocabulary for the test words ("word1234" is word ##1 ##2 ##3 ##4); <paramref name="extra"/> lines make a different one.</summary>
    public static string Vocab(TempFiles files, string name, int extra = 0) =>
        files.WriteText(name, string.Join('\n', ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "word", .. Enumerable.Range(0, 10).Select(d => $"##{d}"), .. Enumerable.Range(0, extra).Select(i => $"extra{i}")]) + "\n");

    /// <summary>A run's --summary-json report.</summary>
    public static JsonElement Summary(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    /// <summary>A loader's arguments: the test documents in rows of 32 tokens, four to a batch, in order, to <paramref name="endpoint"/>.</summary>
    public static string[] LoaderArgs(string docs, string vocab, string endpoint, params string[] more) =>
        ["--role", "loader", "--source", docs, "--vocab", vocab, "--seq-len", "32", "--batch-size", "4", "--shuffle-buffer", "0", "--out", endpoint, "--progress", "none", .. more];

    /// <summary>A device's arguments: a micro model trained on the batches from <paramref name="endpoint"/>, reporting every step.</summary>
    public static string[] DeviceArgs(string endpoint, params string[] more) =>
        ["--role", "device", "--in", endpoint, "--model", "micro", "--progress", "plain", "--log-every", "1", .. more];

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Debian's python3, which has pyzmq, numpy and torch (the pyenv one first on PATH has not).</summary>
    public const string SystemPython = "/usr/bin/python3";

    /// <summary>A file of examples/python.</summary>
    public static string PythonExample(string name) => Path.Combine(SharedData.RepositoryRoot, "examples", "python", name);

    private static readonly Lazy<(string? Python, string Why)> s_clientPython = new(InstallClient, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The python of a virtual environment made for this test run over Debian's (<c>--system-site-packages</c>: its
    /// pyzmq, numpy and torch), with the client package installed from <c>python/</c> by pip as a user would, so the
    /// examples import it from there and not from the checkout. Skips (with pip's words) where that cannot be done.
    /// </summary>
    public static string ClientPython
    {
        get
        {
            (string? python, string why) = s_clientPython.Value;
            Requirement.SkipIfMissing(python is null, why);
            return python!;
        }
    }

    private static (string? Python, string Why) InstallClient()
    {
        if (!File.Exists(SystemPython))
        {
            return (null, $"{SystemPython} is missing; .ci/run installs Debian's python3 with python3-venv, python3-zmq, python3-numpy and python3-torch.");
        }
        string folder = Path.Combine(Path.GetTempPath(), $"streamloader-client-venv-{Environment.ProcessId}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } };
        // pip builds in the folder it installs from: a copy keeps the checkout clean.
        string package = Path.Combine(folder, "package");
        Directory.CreateDirectory(Path.Combine(package, "streamloader_client"));
        string source = Path.Combine(SharedData.RepositoryRoot, "python");
        foreach (string file in new[] { "pyproject.toml", "README.md" }.Concat(Directory.GetFiles(Path.Combine(source, "streamloader_client"), "*.py").Select(f => Path.Combine("streamloader_client", Path.GetFileName(f)))))
        {
            File.Copy(Path.Combine(source, file), Path.Combine(package, file));
        }
        string venv = Path.Combine(folder, "venv");
        string python = Path.Combine(venv, "bin", "python");
        foreach (string[] step in new[]
        {
            new[] { SystemPython, "-m", "venv", "--system-site-packages", venv },
            new[] { python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--disable-pip-version-check", "--quiet", package },
        })
        {
            using var process = Process.Start(new ProcessStartInfo(step[0], step[1..]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            string error = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                process.Kill(entireProcessTree: true);
            }
            if (!process.HasExited || process.ExitCode != 0)
            {
                return (null, $"'{string.Join(' ', step)}' failed (.ci/run installs python3-venv and python3-setuptools): {(error + output.Result).Trim().Split('\n').LastOrDefault()}");
            }
        }
        return (python, string.Empty);
    }

    /// <summary>
    /// Skips (fails where everything is required) unless the client's python (<see cref="ClientPython"/>) imports
    /// every module named.
    /// </summary>
    public static void RequirePython(params string[] modules)
    {
        Requirement.SkipIfMissing(!File.Exists(SystemPython), $"{SystemPython} is missing; .ci/run installs Debian's python3 with python3-zmq, python3-numpy and python3-torch.");
        using var probe = Process.Start(new ProcessStartInfo(ClientPython, ["-c", $"import {string.Join(", ", modules)}"]) { RedirectStandardError = true })!;
        string error = probe.StandardError.ReadToEnd();
        probe.WaitForExit();
        Requirement.SkipIfMissing(probe.ExitCode != 0, $"{SystemPython} cannot import {string.Join(", ", modules)} (.ci/run installs python3-zmq, python3-numpy and python3-torch with apt): {error.Trim().Split('\n').LastOrDefault()}");
    }

    /// <summary>
    /// Runs a program to its end. It is taken to hang, and killed, once it has printed nothing for the test limit (a
    /// loaded machine slows a run down, but one that makes progress prints it), or after three limits in all.
    /// </summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunProgramAsync(string workingDirectory, string program, params string[] args) =>
        RunProgramAsync(workingDirectory, null, program, args);

    /// <summary>Runs a program to its end as <see cref="RunProgramAsync(string, string, string[])"/> does, with <paramref name="environment"/> changed (a null value removes the variable).</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunProgramAsync(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        long lastOutput = Environment.TickCount64;
        using Process process = new() { StartInfo = info };
        process.OutputDataReceived += (_, e) => Heard(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Heard(stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            long quiet = Environment.TickCount64 - Interlocked.Read(ref lastOutput);
            if (quiet > Limit.TotalMilliseconds || clock.Elapsed > 3 * Limit)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                string why = quiet > Limit.TotalMilliseconds ? $"printed nothing for {quiet / 1000.0:0} s" : $"did not end within {clock.Elapsed.TotalSeconds:0} s";
                throw new TimeoutException($"{program} {string.Join(' ', args)} {why} (after {clock.Elapsed.TotalSeconds:0} s)\n{Text(stdout)}\n{Text(stderr)}");
            }
            // Wakes when the process exits, or when it would have been quiet for the whole limit.
            long wait = Math.Max(1, Math.Min((long)Limit.TotalMilliseconds - quiet, (long)(3 * Limit - clock.Elapsed).TotalMilliseconds) + 1);
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMilliseconds(wait));
            }
            catch (TimeoutException)
            {
            }
        }
        await process.WaitForExitAsync(); // the output's last lines
        return (process.ExitCode, Text(stdout), Text(stderr));

        void Heard(System.Text.StringBuilder into, string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (into)
            {
                into.Append(line).Append('\n');
            }
            Interlocked.Exchange(ref lastOutput, Environment.TickCount64);
        }

        static string Text(System.Text.StringBuilder from)
        {
            lock (from)
            {
                return from.ToString();
            }
        }
    }

    private static readonly SemaphoreSlim s_training = new(1, 1);
    private static string? s_classifier;

    /// <summary>
    /// A bag-of-embeddings classifier trained once per test run on Made-With-ML (title and description, label tag),
    /// shared by every test that infers with one; training itself is tested by the tests that train.
    /// </summary>
    public static async Task<string> ClassifierAsync()
    {
        string csv = SharedData.Require("labelled/made-with-ml/dataset.csv");
        string vocab = SharedData.Require(SharedData.BertVocab);
        await s_training.WaitAsync();
        try
        {
            if (s_classifier is null)
            {
                string folder = Path.Combine(Path.GetTempPath(), "streamloader-tests", "infer-classifier-" + Environment.ProcessId);
                Directory.CreateDirectory(folder);
                (int exit, _, string stderr) = await CliProcess.RunAsync(folder, TimeSpan.FromSeconds(180), "--task", "classify", "--all", "--source", csv, "--text-column", "title,description", "--label-column", "tag",
                    "--vocab", vocab, "--model", "bag", "--lr", "1e-2", "--batch-size", "16", "--epochs", "2", "--eval-split", "0", "--checkpoint", "model", "--progress", "none");
                Assert.True(exit == 0, $"training the classifier exited {exit}\n{stderr}");
                s_classifier = Path.Combine(folder, "model");
            }
            return s_classifier;
        }
        finally
        {
            s_training.Release();
        }
    }
}
