using StreamLoader.Cli;
using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// An output the console cannot write is the output's fault, with its own exit code (5) and a message naming it —
/// not "input" (3), and not a reader that left (0) — while a pipe whose reader exits still ends the run cleanly.
/// </summary>
public sealed class OutputFailureTests
{
    [SkippableTheory]
    [InlineData("--role", "loader", "--out", "/dev/full", "--max-steps", "30")]
    [InlineData("--role", "loader", "--out", "missing/b.frames", "--max-steps", "3")]
    [InlineData("tokenize", "--output", "/dev/full")]
    [InlineData("tokenize", "--output", "missing/ids.jsonl")]
    public async Task UnwritableOutput_ExitsFive_NamingIt(params string[] command)
    {
        Skip.If(command.Contains("/dev/full") && !File.Exists("/dev/full"), "/dev/full is Linux's always-full device; this machine has none.");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 400, words: 60);
        string vocab = Vocab(files, "vocab.txt");
        string output = command[Array.IndexOf(command, command.Contains("--out") ? "--out" : "--output") + 1];

        // Loader frames of 64 rows of 512 tokens (2 MiB) outgrow the file's buffer, so the first write fails.
        string[] shape = command[0] == "tokenize" ? [] : ["--seq-len", "512", "--batch-size", "64"];

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, [.. command, "--source", docs, "--vocab", vocab, .. shape]);

        Assert.True(exit == ExitCodes.OutputError, $"exit {exit}: {stderr}");
        Assert.Contains($"{output}: the output cannot be written", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
