using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The Python package (examples/python: pyzmq and numpy only) against a real loader, PyTorch DDP under torchrun fed by
/// StreamLoader, and back-pressure from a slow consumer. Python comes from Debian (/usr/bin/python3 with python3-zmq,
/// python3-numpy and python3-torch, which .ci/run installs); tests skip with a message where they are missing.
/// </summary>
public sealed partial class ConsoleTests
{
    private const string SystemPython = "/usr/bin/python3";

    private static string PythonExample(string name) => Path.Combine(SharedData.RepositoryRoot, "examples", "python", name);

    /// <summary>Skips unless Debian's python3 imports every module named.</summary>
    private static void RequirePython(params string[] modules)
    {
        Skip.IfNot(File.Exists(SystemPython), $"{SystemPython} is missing; .ci/run installs Debian's python3 with python3-zmq, python3-numpy and python3-torch.");
        using var probe = Process.Start(new ProcessStartInfo(SystemPython, ["-c", $"import {string.Join(", ", modules)}"]) { RedirectStandardError = true })!;
        string error = probe.StandardError.ReadToEnd();
        probe.WaitForExit();
        Skip.If(probe.ExitCode != 0, $"{SystemPython} cannot import {string.Join(", ", modules)} (.ci/run installs python3-zmq, python3-numpy and python3-torch with apt): {error.Trim().Split('\n').LastOrDefault()}");
    }

    /// <summary>
    /// Runs a program to its end. It is taken to hang, and killed, once it has printed nothing for the test limit (a
    /// loaded machine slows a run down, but one that makes progress prints it), or after three limits in all.
    /// </summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> RunProgramAsync(string workingDirectory, string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
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
            if (quiet > s_limit.TotalMilliseconds || clock.Elapsed > 3 * s_limit)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                string why = quiet > s_limit.TotalMilliseconds ? $"printed nothing for {quiet / 1000.0:0} s" : $"did not end within {clock.Elapsed.TotalSeconds:0} s";
                throw new TimeoutException($"{program} {string.Join(' ', args)} {why} (after {clock.Elapsed.TotalSeconds:0} s)\n{Text(stdout)}\n{Text(stderr)}");
            }
            await Task.WhenAny(process.WaitForExitAsync(), Task.Delay(500));
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

    [SkippableFact]
    public async Task Python_ClientDecodesExactlyTheBatchesTheLoaderSent()
    {
        RequirePython("zmq", "numpy");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 120);
        string vocab = Vocab(files, "vocab.txt");
        // The same stream twice: recorded to a file by the C# side, and sent to the Python client over ZeroMQ.
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, Loader(docs, vocab, "recorded.frames"));
        Assert.True(exit == 0, stderr);
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, Loader(docs, vocab, endpoint, "--summary-json", "loader.json"));
        (int pyExit, string dump, string pyErrors) = await RunProgramAsync(files.Folder, SystemPython, PythonExample("dump_batches.py"), endpoint, "3");
        Assert.True(pyExit == 0, pyErrors);
        Assert.True(await loader.WaitAsync(s_limit) == 0, loader.Stderr);

        var expected = new List<string>();
        await using (StreamBatchReader recorded = await StreamTransports.OpenReaderAsync(files.Path("recorded.frames")))
        {
            await foreach (TensorBatch batch in recorded.ReadAllAsync())
            {
                using (batch)
                {
                    expected.Add($"{batch.Sequence}:" + string.Join(",", batch.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal)
                        .Select(t => $"{t.Name}[{string.Join('x', t.Shape)}]={Convert.ToHexStringLower(SHA256.HashData(t.Bytes))}")));
                }
            }
        }
        string[] lines = dump.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] decoded = lines.SkipLast(1).Select(l =>
        {
            JsonElement row = JsonDocument.Parse(l).RootElement;
            return $"{row.GetProperty("sequence").GetInt64()}:" + string.Join(",", row.GetProperty("tensors").EnumerateObject()
                .Select(t => $"{t.Name}[{string.Join('x', t.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()))}]={t.Value.GetProperty("sha256").GetString()}"));
        }).ToArray();

        Assert.NotEmpty(expected);
        Assert.Equal(expected, decoded);
        Assert.Equal(expected.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), JsonDocument.Parse(lines[^1]).RootElement.GetProperty("end").GetProperty("total").GetString());
        Assert.Equal(expected.Count, Summary(files.Path("loader.json")).GetProperty("transport").GetProperty("acknowledged").GetInt64());
    }

    [SkippableFact]
    public async Task Torchrun_TwoDdpRanksFedByOneLoader_TrainDisjointBatchesInLockstep_WhatIsLeftOverIsCounted_AndTheLossFalls()
    {
        RequirePython("zmq", "numpy", "torch", "torch.distributed");
        Skip.IfNot(File.Exists("/usr/bin/torchrun"), "/usr/bin/torchrun is missing (Debian's python3-torch installs it; .ci/run installs that).");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        // An odd number of batches: the ranks step together, so one is left over. The rank that cannot get it must
        // hear so (DRAINED) and stop the others, rather than wait for the stream's end while another rank holds it.
        const int Batches = 61;
        using CliProcess loader = CliProcess.Start(files.Folder, Loader(docs, vocab, endpoint, "--max-steps", $"{Batches}", "--expect-consumers", "2", "--summary-json", "loader.json"));
        // torch 1.13's launcher on Python 3.11 cannot parse its default --redirects/--tee of 0 (an IntFlag quirk): give 1.
        (int exit, string output, string errors) = await RunProgramAsync(files.Folder, "/usr/bin/torchrun", "--nproc_per_node", "2", "--standalone", "--redirects", "1", "--tee", "1",
            "--log_dir", files.Path("torch-logs"), PythonExample("train_mlm.py"), "--endpoint", endpoint, "--report", files.Path("rank-{rank}.json"));
        Assert.True(exit == 0, $"torchrun exited {exit}\n{output}\n{errors}");
        Assert.True(await loader.WaitAsync(s_limit) == 0, loader.Stderr);

        JsonElement[] ranks = [.. Enumerable.Range(0, 2).Select(r => JsonDocument.Parse(File.ReadAllText(files.Path($"rank-{r}.json"))).RootElement.Clone())];
        long[][] seen = ranks.Select(r => r.GetProperty("sequences").EnumerateArray().Select(s => s.GetInt64()).ToArray()).ToArray();
        Assert.Empty(seen[0].Intersect(seen[1]));
        Assert.Equal(seen[0].Length, seen[1].Length); // in lockstep
        // Each batch was trained once, or handed back untrained when the ranks stopped and counted so: none lost. At
        // least one is left over (the odd one), and at most what a rank's window (train_mlm.py's 4) held besides.
        int trained = seen[0].Length + seen[1].Length;
        Assert.Subset(Enumerable.Range(0, Batches).Select(i => (long)i).ToHashSet(), seen[0].Concat(seen[1]).ToHashSet());
        Assert.InRange(trained, Batches - 1 - (2 * 4), Batches - 1);
        JsonElement transport = Summary(files.Path("loader.json")).GetProperty("transport");
        Assert.Equal(trained, transport.GetProperty("acknowledged").GetInt64());
        Assert.Equal(Batches - trained, transport.GetProperty("returned").GetInt64());
        Assert.Equal(0, transport.GetProperty("undeliverable").GetInt64());
        foreach (JsonElement rank in ranks)
        {
            double[] losses = rank.GetProperty("losses").EnumerateArray().Select(l => l.GetDouble()).ToArray();
            Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average(), $"rank {rank.GetProperty("rank")}: loss {losses[0]:0.000} -> {losses[^1]:0.000}");
        }
        Assert.Equal(2, transport.GetProperty("consumers").GetInt32());
    }

    [Fact]
    public async Task BackPressure_ASlowConsumerBlocksTheLoader_WhoseMemoryStaysFlat()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, Loader(docs, vocab, endpoint, "--epochs", "0", "--summary-json", "loader.json"));
        await using var consumer = new StreamLoader.Transport.ZeroMq.ZeroMqBatchReader(endpoint, window: 2);
        var rss = new List<long>();
        long received = 0;
        var clock = Stopwatch.StartNew();
        await foreach (TensorBatch batch in consumer.ReadAllAsync())
        {
            batch.Dispose();
            received++;
            await Task.Delay(100); // a slow step
            if (clock.Elapsed > TimeSpan.FromSeconds(1.5) && rss.Count < 100)
            {
                rss.Add(ResidentBytes(loader.Id));
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(7))
            {
                break;
            }
        }
        await consumer.DisposeAsync();
        Assert.True(await loader.WaitAsync(s_limit) == 0, loader.Stderr);

        // The loader could make thousands of batches a second; the consumer took about ten.
        Assert.InRange(received, 30, 90);
        long first = rss.Take(5).Max();
        long last = rss.TakeLast(5).Max();
        Assert.True(last < first * 1.15, $"the loader's memory grew from {first / 1e6:0.0} MB to {last / 1e6:0.0} MB while it waited");
        JsonElement batcher = Summary(files.Path("loader.json")).GetProperty("stages").EnumerateArray().First(s => s.GetProperty("name").GetString() == "batcher");
        Assert.True(batcher.GetProperty("wait_downstream_seconds").GetDouble() > 4, $"the batcher waited {batcher.GetProperty("wait_downstream_seconds").GetDouble():0.0} s for the consumer");
    }

    private static long ResidentBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return 0;
    }
}
