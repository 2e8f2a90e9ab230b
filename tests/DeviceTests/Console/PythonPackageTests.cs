using System.Text.Json;
using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The Python client is a package a training node installs with pip (python/pyproject.toml), not a folder put on
/// sys.path: installed into a fresh virtual environment it imports from there, declares its dependencies, carries
/// the wire protocol as its major version, and README's Python example trains with it. Without it installed, the
/// examples say how to install it.
/// </summary>
public sealed class PythonPackageTests
{
    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task PipInstall_IntoAFreshVirtualEnvironment_TheReadmeExampleTrainsWithIt()
    {
        RequirePython("zmq", "numpy", "torch");
        string python = ClientPython;
        using var files = new TempFiles();

        (int exit, string shown, string errors) = await RunProgramAsync(files.Folder, python, "-c",
            "import json, streamloader_client as s, streamloader_client.torch_dataset; print(json.dumps({'version': s.__version__, 'protocol': s.PROTOCOL, 'file': s.__file__}))");
        Assert.True(exit == 0, errors);
        JsonElement package = JsonDocument.Parse(shown).RootElement;
        Assert.StartsWith(Path.GetDirectoryName(Path.GetDirectoryName(python))!, package.GetProperty("file").GetString(), StringComparison.Ordinal);
        Assert.Equal(package.GetProperty("protocol").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), package.GetProperty("version").GetString()!.Split('.')[0]);
        (int pipExit, string pip, _) = await RunProgramAsync(files.Folder, python, "-m", "pip", "show", "streamloader-client");
        Assert.Equal(0, pipExit);
        Assert.Contains("Requires: numpy, pyzmq", pip, StringComparison.Ordinal);

        // README: python3 examples/python/train_mlm.py --endpoint tcp://host:5555, fed by a loader.
        string docs = Jsonl(files, "docs.jsonl", 200);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        using CliProcess loader = CliProcess.Start(files.Folder, LoaderArgs(docs, vocab, endpoint, "--max-steps", "30", "--summary-json", "loader.json"));
        (int trainExit, string output, string trainErrors) = await RunProgramAsync(files.Folder, python, PythonExample("train_mlm.py"), "--endpoint", endpoint, "--report", files.Path("rank.json"));
        Assert.True(trainExit == 0, $"{output}\n{trainErrors}");
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);
        JsonElement report = JsonDocument.Parse(File.ReadAllText(files.Path("rank.json"))).RootElement;
        Assert.Equal(30, report.GetProperty("sequences").GetArrayLength());
        Assert.Equal(30, Summary(files.Path("loader.json")).GetProperty("transport").GetProperty("acknowledged").GetInt64());
    }

    /// <summary>
    /// The Hugging Face form (streamloader_client.huggingface) on real packed batches, checked by
    /// python/tests/check_huggingface_form.py against stock PyTorch: causal labels unshifted score exactly the
    /// predictions StreamLoader's score under a Hugging Face LM head's shift, and a stock MultiheadAttention given the
    /// 4-D mask matches each document run alone (the segments cu_seq_lens names).
    /// </summary>
    [Trait("Category", "EndToEnd")]
    [SkippableTheory]
    [InlineData("clm")]
    [InlineData("mlm")]
    public async Task HuggingFaceForm_PackedBatches_MatchStockPyTorchPerDocument(string task)
    {
        RequirePython("zmq", "numpy", "torch");
        string python = ClientPython;
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 200, words: 12);
        string vocab = Vocab(files, "vocab.txt");
        string endpoint = $"tcp://127.0.0.1:{FreePort()}";
        string[] packing = task == "mlm" ? ["--pack", "true"] : [];
        using CliProcess loader = CliProcess.Start(files.Folder, ["--role", "loader", "--task", task, "--source", docs, "--vocab", vocab, "--seq-len", "64", "--batch-size", "4", "--max-steps", "6", "--out", endpoint, "--progress", "none", .. packing]);

        (int exit, string output, string errors) = await RunProgramAsync(files.Folder, python, Path.Combine(SharedData.RepositoryRoot, "python", "tests", "check_huggingface_form.py"), endpoint, "6");

        Assert.True(exit == 0, $"{output}\n{errors}");
        Assert.True(await loader.WaitAsync(Limit) == 0, loader.Stderr);
        JsonElement figures = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(6, figures.GetProperty("batches").GetInt32());
        Assert.True(figures.GetProperty("documents").GetInt32() > 6 * 4, output); // several documents to a row
        Assert.True(figures.GetProperty("max_abs_diff").GetDouble() < 1e-5, output);
        if (task == "clm")
        {
            Assert.True(figures.GetProperty("predictions").GetInt32() > 0, output);
        }
    }

    [SkippableFact]
    public async Task Examples_WithoutThePackageInstalled_SayHowToInstallIt()
    {
        Requirement.SkipIfMissing(!File.Exists(SystemPython), $"{SystemPython} is missing.");
        using var files = new TempFiles();
        (int probe, _, _) = await RunProgramAsync(files.Folder, SystemPython, "-c", "import streamloader_client");
        Skip.If(probe == 0, $"{SystemPython} has streamloader_client installed, so the message for a missing one cannot be seen.");

        (int exit, _, string errors) = await RunProgramAsync(files.Folder, SystemPython, PythonExample("dump_batches.py"), "tcp://127.0.0.1:1", "1");

        Assert.Equal(1, exit);
        Assert.Contains("pip install ./python", errors, StringComparison.Ordinal);
    }
}
