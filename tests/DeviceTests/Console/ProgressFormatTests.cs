using StreamLoader.Cli.Reporting;

namespace StreamLoader.Device.Tests.Console;

/// <summary>The progress line and the summary say what their labels say.</summary>
public sealed class ProgressFormatTests
{
    private static readonly ProgressSample s_before = new(Documents: 100, Tokens: 10_000, Batches: 10, Steps: 5, Loss: 7.5, RawBytes: 1_000, RawTotal: 4_000, DocumentQueue: 64, BatchQueue: 3);

    [Fact]
    public void Format_RatesAreOverTheWholeInterval()
    {
        ProgressSample now = s_before with { Documents = 600, Tokens = 60_000, Steps = 15 };

        string line = ProgressViews.Format(now, s_before, elapsed: 12, interval: 5);

        Assert.Contains("docs 600 (100/s)", line, StringComparison.Ordinal);
        Assert.Contains("tokens 60.00k (10.00k/s)", line, StringComparison.Ordinal);
        Assert.Contains("steps 15 (2.0/s)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_BatchQueueOnlyWhenBothEndsAreHere()
    {
        Assert.Contains("queued 64 docs, 3 batches", ProgressViews.Format(s_before, s_before, 1, 1), StringComparison.Ordinal);
        string loader = ProgressViews.Format(s_before with { BatchQueue = null }, s_before, 1, 1);
        Assert.Contains("queued 64 docs", loader, StringComparison.Ordinal);
        Assert.DoesNotContain("batches |", loader, StringComparison.Ordinal);
        Assert.DoesNotContain("3 batches", loader, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_StalledSource_SaysWhatItWaitsForAndHowLong()
    {
        ProgressSample stalled = s_before with { Waiting = ("data from dumps.example.org", TimeSpan.FromSeconds(12.4)) };

        Assert.Contains("WAITING 12 s for data from dumps.example.org", ProgressViews.Format(stalled, s_before, 20, 5), StringComparison.Ordinal);
        Assert.DoesNotContain("WAITING", ProgressViews.Format(s_before with { Waiting = ("x", TimeSpan.FromMilliseconds(200)) }, s_before, 20, 5), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2.5, "2.50x faster sorted")]
    [InlineData(1.0, "1.00x faster sorted")]
    [InlineData(0.25, "4.00x slower sorted")]
    [InlineData(null, "no speed compared")]
    public void SortedAgainstFixed_SaysSlowerWhenSortedWasSlower(double? speedup, string expected)
    {
        Assert.Equal(expected, HumanSummary.SortedAgainstFixed(speedup));
    }
}

/// <summary>The summary as a log holds it: stderr is not a terminal.</summary>
public sealed class SummaryInALogTests
{
    [Fact]
    public async Task Summary_StderrNotATerminal_TablesStayWithinTheLogWidth_MessagesUnwrapped()
    {
        using var files = new StreamLoader.Tests.Infrastructure.TempFiles();
        string docs = CliFixtures.Jsonl(files, "docs.jsonl", 40);
        string vocab = CliFixtures.Vocab(files, "vocab.txt");

        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, CliFixtures.Limit,
            "--all", "--source", docs, "--vocab", vocab, "--model", "micro", "--max-steps", "2", "--checkpoint", "none", "--progress", "plain");

        Assert.Equal(0, exit);
        string[] table = [.. stderr.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && "╭│├╰".Contains(l[0], StringComparison.Ordinal))];
        Assert.NotEmpty(table);
        Assert.All(table, l => Assert.True(l.Length <= HumanSummary.LogTableWidth, $"{l.Length} columns: {l}"));
        Assert.Contains(stderr.Split('\n'), l => l.Length > HumanSummary.LogTableWidth && l.StartsWith("tokens count ids", StringComparison.Ordinal));
    }
}
