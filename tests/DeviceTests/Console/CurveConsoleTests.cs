using System.Text.Json;
using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// CURVE from the console, as docs/WIRE.md tells a user to set it up: `streamloader keys` writes the pairs, the loader
/// takes its secret and a folder of the devices' public keys, a device (C#, or the Python client) its copy of the
/// loader's public key and its own pair. A device outside the folder is refused and counted; the right one trains.
/// </summary>
public sealed class CurveConsoleTests
{
    private static async Task<TempFiles> KeysAsync()
    {
        var files = new TempFiles();
        foreach (string name in new[] { "loader", "rank0", "stranger" })
        {
            (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["keys", "--out", "keys", "--name", name]);
            Assert.True(exit == 0, stderr);
            Assert.Contains($"{name}.key_secret", stdout, StringComparison.Ordinal);
        }
        Directory.CreateDirectory(files.Path("allowed"));
        File.Copy(files.Path("keys/rank0.key"), files.Path("allowed/rank0.key"));
        return files;
    }

    private static string[] Secured(string[] args, params string[] keys) => [.. args, .. keys];

    [Fact]
    public async Task KeysCommand_Loader_AndDevices_OnlyTheAuthorizedDeviceTrains_TheStrangerIsCounted()
    {
        using TempFiles files = await KeysAsync();
        string docs = Jsonl(files, "docs.jsonl", 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, Secured(LoaderArgs(docs, vocab, endpoint, "--summary-json", "loader.json"),
            "--curve-server-key", "keys/loader.key_secret", "--curve-keys", "allowed"));

        (int strangerExit, _, string strangerErrors) = await CliProcess.RunAsync(files.Folder, Limit, Secured(DeviceArgs(endpoint, "--checkpoint", "none"),
            "--curve-server-key", "keys/loader.key", "--curve-key", "keys/stranger.key_secret"));
        (int exit, _, string errors) = await CliProcess.RunAsync(files.Folder, Limit, Secured(DeviceArgs(endpoint, "--checkpoint", "none"),
            "--curve-server-key", "keys/loader.key", "--curve-key", "keys/rank0.key_secret"));

        Assert.True(strangerExit == 3, $"exit {strangerExit}\n{strangerErrors}");
        Assert.Contains("not among this loader's authorized keys", strangerErrors, StringComparison.Ordinal);
        Assert.True(exit == 0, errors);
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);
        JsonElement transport = Summary(files.Path("loader.json")).GetProperty("transport");
        Assert.Equal((1, 1, 1), (transport.GetProperty("consumers").GetInt32(), transport.GetProperty("refused").GetInt32(), transport.GetProperty("unauthorized").GetInt32()));
        Assert.True(transport.GetProperty("acknowledged").GetInt64() > 0);
        Assert.Contains("1 without an authorized key", loader.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task PythonClient_WithItsKeys_GetsEveryBatch_WithAStrangersKey_IsRefused()
    {
        RequirePython("zmq", "numpy", "nacl");
        using TempFiles files = await KeysAsync();
        string docs = Jsonl(files, "docs.jsonl", 60);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, Secured(LoaderArgs(docs, vocab, endpoint, "--summary-json", "loader.json"),
            "--curve-server-key", "keys/loader.key_secret", "--curve-keys", "allowed"));

        (int strangerExit, _, string strangerErrors) = await RunProgramAsync(files.Folder, ClientPython, PythonExample("dump_batches.py"), endpoint, "3",
            "--server-key", "keys/loader.key", "--client-key", "keys/stranger.key_secret");
        (int exit, string dump, string errors) = await RunProgramAsync(files.Folder, ClientPython, PythonExample("dump_batches.py"), endpoint, "3",
            "--server-key", "keys/loader.key", "--client-key", "keys/rank0.key_secret");

        Assert.True(strangerExit != 0, "the stranger's client ended without an error");
        Assert.Contains("not among this loader's authorized keys", strangerErrors, StringComparison.Ordinal);
        Assert.True(exit == 0, errors);
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);
        JsonElement transport = Summary(files.Path("loader.json")).GetProperty("transport");
        long batches = dump.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1;
        Assert.True(batches > 0);
        Assert.Equal(batches, transport.GetProperty("acknowledged").GetInt64());
        Assert.Equal(1, transport.GetProperty("unauthorized").GetInt32());
    }

    [Theory]
    [InlineData("loader", "--curve-server-key keys/loader.key", "the loader needs its secret key")]
    [InlineData("loader", "--curve-keys allowed", "--curve-keys needs --curve-server-key")]
    [InlineData("device", "--curve-server-key keys/loader.key --curve-key keys/rank0.key", "a device proves its key with the secret half")]
    [InlineData("device", "--curve-server-key keys/missing.key", "missing.key")]
    public async Task MisplacedKeys_AreOneLineAndExit2(string role, string keys, string expected)
    {
        using TempFiles files = await KeysAsync();
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        string[] args = role == "loader" ? LoaderArgs(Jsonl(files, "docs.jsonl", 5), Vocab(files, "vocab.txt"), endpoint) : DeviceArgs(endpoint, "--checkpoint", "none");

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, Secured(args, keys.Split(' ')));

        Assert.True(exit == 2, $"exit {exit}\n{stderr}");
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }
}
