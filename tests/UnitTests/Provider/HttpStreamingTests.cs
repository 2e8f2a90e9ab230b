using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>Reading a dump over HTTP from a real loopback server, including dropped connections.</summary>
public sealed class HttpStreamingTests
{
    private static readonly HttpReadOptions s_fastRetries = new() { MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(10), ReadTimeout = TimeSpan.FromSeconds(5) };

    private static byte[] SyntheticDump(int pages) =>
        TempFiles.Gzip(string.Concat(Enumerable.Range(0, pages).Select(i => TempFiles.CirrusPage(i.ToString(), $"Page {i}", TestTokenizer.Words(300, i)))));

    [SkippableFact]
    public async Task ReadAsync_OverHttp_MatchesTheFile()
    {
        byte[] content = File.ReadAllBytes(SharedData.Require(SharedData.CirrusSample));
        await using var server = new LoopbackHttpServer(content);

        List<Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(server.Url));

        Assert.Equal(106, docs.Count);
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task ReadAsync_ConnectionDropsMidway_ResumesWithRangeAndLosesNothing()
    {
        byte[] content = SyntheticDump(400);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 3, DropRequests = 2 };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(400, docs.Count);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => i.ToString()), docs.Select(d => d.Id));
        Assert.Equal(3, server.Requests);
        Assert.Equal(2, server.Ranges.Count);
        Assert.All(server.Ranges, r => Assert.DoesNotContain("bytes=0-", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReadAsync_ServerIgnoresRange_RereadsPrefixAndLosesNothing()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 2, DropRequests = 1, IgnoreRange = true };

        List<Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries }));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => i.ToString()), docs.Select(d => d.Id));
    }

    [Fact]
    public async Task ReadAsync_ConnectionKeepsDropping_FailsWithUrlAndOffsetInsteadOfHanging()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = 1000, DropRequests = int.MaxValue };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader, timeoutSeconds: 30));

        Assert.Contains(server.Url, error.Message, StringComparison.Ordinal);
        Assert.Contains("dropped at byte", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, server.Requests); // the first try and three resumes
    }

    [Fact]
    public async Task OpenAsync_NothingListening_Throws()
    {
        using var http = new HttpClient();
        // A URL on a port nobody listens on: connection refused surfaces as an HttpRequestException.
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => ResumableHttpStream.OpenAsync(http, new Uri("http://127.0.0.1:1/none")));
    }
}
