using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>A model's tokenizer.json as a user gives it: each task takes its special tokens from the file, and one it lacks is a one-line error.</summary>
public sealed class TokenizerJsonConsoleTests
{
    // Two processes with a 128,256-token vocabulary: about 35 s here, so it runs with the end-to-end set.
    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Llama3_Clm_TakesItsTokensFromTheFile_Mlm_SaysTheMaskIsMissing()
    {
        string llama3 = NodeScripts.TokenizerJson("llama3");
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 30);

        (int clm, _, string clmErr) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "clm", "--all", "--source", docs, "--tokenizer", Path.GetDirectoryName(llama3)!,
            "--model", "micro", "--max-steps", "2", "--checkpoint", "none", "--progress", "none", "--summary-json", "s.json");
        (int mlm, _, string mlmErr) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "mlm", "--all", "--source", docs, "--tokenizer", llama3, "--max-steps", "2", "--checkpoint", "none", "--progress", "none");

        Assert.True(clm == 0, clmErr);
        // The file's own tokens: no id is appended after its 128,256.
        Assert.Contains("vocab 128,256", clmErr, StringComparison.Ordinal);
        Assert.Equal(2, mlm);
        string error = mlmErr.Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("mlm needs a mask token", error, StringComparison.Ordinal);
        Assert.Contains("--task clm", error, StringComparison.Ordinal);
    }
}
