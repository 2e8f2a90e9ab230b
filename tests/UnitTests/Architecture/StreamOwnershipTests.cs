using System.Text.RegularExpressions;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Architecture;

/// <summary>
/// The stream position has one owner, the provider: downstream (the batcher, the transports, the device, the
/// consumers, the results) asks the provider's <c>PositionLog</c> for a resume point by the ordinal a document carries,
/// and never reaches into the live <c>DocumentStream</c>. Only the host that wires the provider to the rest
/// (<c>src/Cli/Hosting/PipelineRun.cs</c>) names it.
/// </summary>
public sealed partial class StreamOwnershipTests
{
    [Fact]
    public void OutsideTheProvider_OnlyTheHostNamesTheLiveStream()
    {
        string src = Path.Combine(SharedData.RepositoryRoot, "src");
        string provider = Path.Combine(src, "Provider") + Path.DirectorySeparatorChar;
        string host = Path.Combine(src, "Cli", "Hosting", "PipelineRun.cs");
        string[] offenders = [.. Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(SharedData.RepositoryRoot, "tasks"), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.StartsWith(provider, StringComparison.Ordinal) && f != host && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => LiveStream().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(SharedData.RepositoryRoot, f))];
        Assert.True(offenders.Length == 0, $"downstream of the provider, these name DocumentStream (ask PositionLog instead): {string.Join(", ", offenders)}");
        // And the host keeps it to itself: what it hands the consumers is the log.
        Assert.Matches(@"private DocumentStream\? Stream", File.ReadAllText(host));
    }

    [Fact]
    public void NoConsumerRunsCodeOnTheProvidersThread()
    {
        // A consumer that needs each document (inference: a row per input document) reads the provider's
        // DocumentRecordLog; none hands the provider a callback to run as it emits.
        string src = Path.Combine(SharedData.RepositoryRoot, "src");
        string provider = Path.Combine(src, "Provider") + Path.DirectorySeparatorChar;
        string[] offenders = [.. Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(provider, StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => DocumentCallback().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(SharedData.RepositoryRoot, f))];
        Assert.True(offenders.Length == 0, $"these hand the provider code to run on each document (append to its DocumentRecordLog instead): {string.Join(", ", offenders)}");
    }

    [GeneratedRegex(@"\b(Action|Func)<Document\b")]
    private static partial Regex DocumentCallback();

    [GeneratedRegex(@"\bDocumentStream\b")]
    private static partial Regex LiveStream();
}
