using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The Python package (python/, pyzmq and numpy only, pip-installed into a virtual environment as a user would:
/// <see cref="CliFixtures.ClientPython"/>) against a real loader, PyTorch DDP under torchrun fed by StreamLoader, and
/// back-pressure from a slow consumer. Python comes from Debian (/usr/bin/python3 with python3-venv, python3-zmq,
/// python3-numpy and python3-torch, which .ci/run installs); tests skip with a message where they are missing.
/// </summary>
public sealed class PythonInteropTests
{
    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Python_ClientDecodesExactlyTheBatchesTheLoaderSent()
    {
        RequirePython("zmq", "numpy");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 120);
        string vocab = Vocab(files, "vocab.txt");
        // The same stream twice: recorded to a file by the C# side, and sent to the Python client over ZeroMQ.
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, LoaderArgs(docs, vocab, "recorded.frames"));
        Assert.True(exit == 0, stderr);
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--summary-json", "loader.json"));
        (int pyExit, string dump, string pyErrors) = await RunProgramAsync(files.Folder, ClientPython, PythonExample("dump_batches.py"), endpoint, "3");
        Assert.True(pyExit == 0, pyErrors);
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);

        var expected = new List<string>();
        await using (StreamBatchReader recorded = FrameFileTransportKind.Open(files.Path("recorded.frames")))
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

    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Torchrun_TwoDdpRanksFedByOneLoader_TrainDisjointBatchesInLockstep_WhatIsLeftOverIsCounted_AndTheLossFalls()
    {
        RequirePython("zmq", "numpy", "torch", "torch.distributed");
        Requirement.SkipIfMissing(!File.Exists("/usr/bin/torchrun"), "/usr/bin/torchrun is missing (Debian's python3-torch installs it; .ci/run installs that).");
        string python = ClientPython; // torchrun from the environment the client is installed in: python -m torch.distributed.run
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        // An odd number of batches: the ranks step together, so one is left over. The rank that cannot get it must
        // hear so (DRAINED) and stop the others, rather than wait for the stream's end while another rank holds it.
        const int Batches = 61;
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--max-steps", $"{Batches}", "--expect-consumers", "2", "--summary-json", "loader.json"));
        // torch 1.13's launcher on Python 3.11 cannot parse its default --redirects/--tee of 0 (an IntFlag quirk): give 1.
        (int exit, string output, string errors) = await RunProgramAsync(files.Folder, python, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", "--redirects", "1", "--tee", "1",
            "--log_dir", files.Path("torch-logs"), PythonExample("train_mlm.py"), "--endpoint", endpoint, "--report", files.Path("rank-{rank}.json"));
        Assert.True(exit == 0, $"torchrun exited {exit}\n{output}\n{errors}");
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);

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

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task BackPressure_ASlowConsumerBlocksTheLoader_WhoseMemoryStaysFlat()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 3000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--epochs", "0", "--summary-json", "loader.json"));
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
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);

        // The loader could make thousands of batches a second, but it handed the transport only what the consumer's
        // credit allowed: the batches it took, its window of two in flight, and the transport's two unsent slots.
        Assert.True(received > 0);
        long sent = Summary(files.Path("loader.json")).GetProperty("transport").GetProperty("sent").GetInt64();
        Assert.True(sent <= received + 2 + 2, $"the loader sent {sent} batches to a consumer that took {received} with a window of 2");
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
