using System.Diagnostics;
using System.Text.Json;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.ZeroMq;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// Loaders and devices in separate processes over ZeroMQ on 127.0.0.1: two devices sharing a loader, one of
/// them killed, silent peers on either side, resume in split roles, and back-pressure from a slow consumer.
/// </summary>
public sealed class SplitRoleTests
{
    private static HashSet<long> Sequences(string ranges) => SequenceRanges.Parse(ranges).ToHashSet();

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task SplitRoles_OneLoaderTwoDevices_EveryBatchTrainedOnceAndTheSummariesAgree()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--expect-consumers", "2", "--summary-json", "loader.json"));
        using CliProcess a = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--summary-json", "a.json", "--checkpoint", "none"));
        using CliProcess b = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--summary-json", "b.json", "--checkpoint", "none"));

        Assert.True(await a.WaitAsync(Limit) == 0, a.Stderr);
        Assert.True(await b.WaitAsync(Limit) == 0, b.Stderr);
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);

        JsonElement sent = Summary(files.Path("loader.json")).GetProperty("transport");
        JsonElement ta = Summary(files.Path("a.json")).GetProperty("transport");
        JsonElement tb = Summary(files.Path("b.json")).GetProperty("transport");
        long total = sent.GetProperty("sent").GetInt64();
        HashSet<long> fromA = Sequences(ta.GetProperty("received_sequences").GetString()!);
        HashSet<long> fromB = Sequences(tb.GetProperty("received_sequences").GetString()!);
        Assert.Empty(fromA.Intersect(fromB));
        Assert.Equal(Enumerable.Range(0, (int)total).Select(i => (long)i), fromA.Union(fromB).Order());
        Assert.NotEmpty(fromA);
        Assert.NotEmpty(fromB);
        Assert.Equal(total, sent.GetProperty("acknowledged").GetInt64());
        Assert.Equal(0, sent.GetProperty("redelivered").GetInt64());
        Assert.Equal(total, Summary(files.Path("a.json")).GetProperty("batches").GetInt64() + Summary(files.Path("b.json")).GetProperty("batches").GetInt64());
        // The loader's record of who acknowledged what is the devices' record of what they received.
        string[] byConsumer = sent.GetProperty("sequences_by_consumer").EnumerateObject().Select(p => p.Value.GetString()!).Order().ToArray();
        Assert.Equal(new[] { ta.GetProperty("received_sequences").GetString()!, tb.GetProperty("received_sequences").GetString()! }.Order(), byConsumer);
        Assert.Equal(total.ToString(System.Globalization.CultureInfo.InvariantCulture), ta.GetProperty("stream_totals").GetProperty("total").GetString());
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task SplitRoles_ADeviceKilled_TheOtherGetsItsUnacknowledgedWindow_EverySequenceOnce()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 400);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--expect-consumers", "2", "--peer-timeout", "3", "--summary-json", "loader.json"));
        // The devices wait longer for the loader's start-up; they heartbeat at the loader's pace once it has welcomed them.
        using CliProcess doomed = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--checkpoint", "none", "--peer-timeout", "10"));
        using CliProcess survivor = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--checkpoint", "none", "--peer-timeout", "10", "--summary-json", "survivor.json"));
        await doomed.WaitForOutputAsync("step      5", Limit);
        Assert.True(doomed.Kill(), "the doomed device finished before it was killed");

        Assert.True(await survivor.WaitAsync(Limit) == 0, survivor.Stderr);
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);

        JsonElement sent = Summary(files.Path("loader.json")).GetProperty("transport");
        long total = sent.GetProperty("sent").GetInt64();
        Assert.Equal(1, sent.GetProperty("lost").GetInt32());
        Assert.True(sent.GetProperty("redelivered").GetInt64() > 0, sent.ToString());
        Assert.Equal(0, sent.GetProperty("undeliverable").GetInt64());
        // Every batch acknowledged by exactly one device: the killed one's before it died, the survivor's the rest,
        // including what the killed one held unacknowledged.
        HashSet<long>[] acknowledged = sent.GetProperty("sequences_by_consumer").EnumerateObject().Select(p => Sequences(p.Value.GetString()!)).ToArray();
        Assert.Equal(2, acknowledged.Length);
        Assert.Empty(acknowledged[0].Intersect(acknowledged[1]));
        Assert.Equal(Enumerable.Range(0, (int)total).Select(i => (long)i), acknowledged[0].Union(acknowledged[1]).Order());
        // The survivor received exactly what the loader records it acknowledged (its share, and the dead one's window).
        HashSet<long> survived = Sequences(Summary(files.Path("survivor.json")).GetProperty("transport").GetProperty("received_sequences").GetString()!);
        Assert.Contains(acknowledged, s => s.SetEquals(survived));
        Assert.Contains("lost", loader.Stderr + File.ReadAllText(files.Path("loader.json")), StringComparison.Ordinal);
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task SplitRoles_TheLoadersInputFails_TheDeviceHearsTheCauseNamingTheFile()
    {
        using var files = new TempFiles();
        string vocab = Vocab(files, "vocab.txt");
        byte[] whole = TempFiles.Gzip(string.Concat(Enumerable.Range(0, 600).Select(i => $"{{\"id\":{i},\"text\":\"{TestTokenizer.Words(40, i)}\"}}\n")));
        string truncated = files.WriteBytes("cut.jsonl.gz", whole[..(whole.Length / 2)]);
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(truncated, vocab, endpoint));
        using CliProcess device = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--checkpoint", "none"));

        int deviceExit = await device.WaitAsync(Limit);
        int loaderExit = await loader.WaitAsync(Limit);

        Assert.Equal(3, loaderExit);
        Assert.True(deviceExit == 3, $"exit {deviceExit}\n{device.Stderr}");
        Assert.Contains("cut.jsonl.gz", device.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("operation was canceled", device.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SilentPeers_ADeviceWithNoLoader_EndsWithAClearErrorWithinTheTimeout()
    {
        using var files = new TempFiles();
        var clock = Stopwatch.StartNew();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, DeviceArgs($"tcp://127.0.0.1:{FreePort()}", "--peer-timeout", "1.5", "--checkpoint", "none"));

        Assert.Equal(3, exit);
        Assert.Contains("no loader answered", stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task SilentPeers_ALoaderWhoseDeviceVanished_FailsCountingTheUndeliverableBatches()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 2000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--peer-timeout", "2", "--summary-json", "loader.json"));
        using CliProcess device = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--checkpoint", "none"));
        await device.WaitForOutputAsync("step      3", Limit);
        device.Kill();
        var clock = Stopwatch.StartNew();

        int exit = await loader.WaitAsync(Limit);

        Assert.True(exit == 3, $"exit {exit}\n{loader.Stderr}");
        Assert.Contains("could not be delivered", loader.Stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        JsonElement transport = Summary(files.Path("loader.json")).GetProperty("transport");
        Assert.True(transport.GetProperty("undeliverable").GetInt64() > 0, transport.ToString());
        Assert.Equal(1, transport.GetProperty("lost").GetInt32());
    }

    [Trait("Category", "EndToEnd")]
    [Fact]
    public async Task SilentPeers_ADeviceWhoseLoaderVanished_SavesItsCheckpointThenFails()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 2000, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint));
        // Long enough for the loader's start-up on a loaded machine: the device waits that long for its WELCOME too.
        using CliProcess device = CliProcess.Start(files.Folder, DeviceArgs(endpoint, "--peer-timeout", "5", "--checkpoint", "saved"));
        await device.WaitForOutputAsync("step      3", Limit);
        loader.Kill();
        var clock = Stopwatch.StartNew();

        int exit = await device.WaitAsync(Limit);

        Assert.True(exit == 3, $"exit {exit}\n{device.Stderr}");
        Assert.Contains("nothing from the loader", device.Stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(File.Exists(files.Path("saved/checkpoint.json")), "the device saved no checkpoint before it failed");
        Assert.True(File.Exists(files.Path("saved/position.json")), "the device's checkpoint holds no stream position");
    }

    [Fact]
    public async Task SplitRoles_ResumeFromTheDevicesCheckpoint_ContinuesTheLossCurveExactly()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 300);
        string vocab = Vocab(files, "vocab.txt");

        async Task<JsonElement> Run(string[] loaderExtra, string[] deviceExtra, string summary)
        {
            string endpoint = $"tcp://127.0.0.1:{FreePort()}";
            using CliProcess l = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, loaderExtra));
            using CliProcess d = CliProcess.Start(files.Folder, DeviceArgs(endpoint, [.. deviceExtra, "--summary-json", summary]));
            Assert.True(await d.WaitAsync(Limit) == 0, d.Stderr);
            Assert.True(await l.WaitAsync(Limit) == 0, l.Stderr);
            return Summary(files.Path(summary));
        }

        JsonElement whole = await Run([], ["--max-steps", "12", "--checkpoint", "none", "--seed", "3"], "whole.json");
        await Run([], ["--max-steps", "6", "--checkpoint", "half", "--seed", "3"], "first.json");
        JsonElement second = await Run(["--resume", "half"], ["--resume", "half", "--max-steps", "12"], "second.json");

        double[] expected = whole.GetProperty("device").GetProperty("loss_curve").EnumerateArray().Skip(6).Select(x => x.GetDouble()).ToArray();
        double[] resumed = second.GetProperty("device").GetProperty("loss_curve").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(12, second.GetProperty("total_steps").GetInt64());
        Assert.Equal(expected.Length, resumed.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - resumed[i]) <= 1e-5 * Math.Abs(expected[i]), $"step {7 + i}: {resumed[i]} resumed vs {expected[i]} uninterrupted");
        }
    }
}
