using System.Diagnostics;
using System.Text.RegularExpressions;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>Reading a dump over HTTP from a real loopback server, including dropped connections.</summary>
public sealed class HttpStreamingTests
{
    private static readonly HttpReadOptions s_fastRetries = new() { MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(10), StallTimeout = TimeSpan.FromSeconds(5) };

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

    /// <summary>
    /// Credentials in a URL leave the location before anything prints or saves it, and go to the server as Basic
    /// authentication (.NET would otherwise drop them silently); text that is printed or saved shows them as ***.
    /// </summary>
    [Fact]
    public async Task CredentialsInTheUrl_AreSentAsBasicAuth_AndNeverShown()
    {
        byte[] content = SyntheticDump(5);
        await using var server = new LoopbackHttpServer(content);
        string withSecret = server.Url.Replace("http://", "http://alice:s3cr%40t@", StringComparison.Ordinal);

        string location = HttpCredentials.Strip(withSecret);
        List<Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(location));

        Assert.Equal(server.Url, location);
        Assert.Equal(5, docs.Count);
        Assert.Equal("Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:s3cr@t")), Assert.Single(server.Authorizations));
        Assert.Equal(server.Url.Replace("http://", "http://***@", StringComparison.Ordinal), HttpCredentials.Mask(withSecret));
        Assert.Equal("a/b.jsonl and https://***@host/x", HttpCredentials.Mask("a/b.jsonl and https://u:p@host/x"));
    }

    [Fact]
    public async Task ReadAsync_ConnectionDropsMidway_ResumesWithRangeAndLosesNothing()
    {
        byte[] content = SyntheticDump(400);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 3, DropRequests = 2 };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(400, docs.Count);
        Assert.Null(reader.Statistics.Waiting);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => i.ToString()), docs.Select(d => d.Id));
        Assert.Equal(3, server.Requests);
        Assert.Equal(2, server.Ranges.Count);
        Assert.All(server.Ranges, r => Assert.DoesNotContain("bytes=0-", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReadAsync_ConnectionDropsEightTimesWithProgress_SurvivesOnAThreeRetryBudget()
    {
        // The budget counts resumes in a row that bring nothing, not drops over the whole download.
        byte[] content = SyntheticDump(400);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 10, DropRequests = 8 };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(Enumerable.Range(0, 400).Select(i => i.ToString()), docs.Select(d => d.Id));
        Assert.Equal(9, server.Requests);
        Assert.Equal(8, reader.Statistics.Resumes);
    }

    [Fact]
    public async Task ReadAsync_ServerIgnoresRange_FailsSayingSo()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 2, DropRequests = 1, IgnoreRange = true };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader, timeoutSeconds: 30));

        Assert.Contains("ignored the Range request", error.Message, StringComparison.Ordinal);
        Assert.Contains(server.Url, error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task ReadAsync_ResourceChangesBetweenResumes_FailsAtOnceWithoutRetrying()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 2, DropRequests = 1, ChangeFromRequest = 2 };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader, timeoutSeconds: 30));

        Assert.Contains("the resource changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task ReadAsync_ResumesKeepBringingNothing_FailsWithUrlAndOffsetInsteadOfHanging()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = 1000, DropLaterAfterBytes = 0, DropRequests = int.MaxValue };

        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = s_fastRetries });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader, timeoutSeconds: 30));

        Assert.Contains(server.Url, error.Message, StringComparison.Ordinal);
        Assert.Contains("dropped at byte", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, server.Requests); // the first try and three resumes that brought nothing
    }

    [Fact]
    public async Task OpenAsync_NothingListening_FailsNamingTheUrl()
    {
        using var http = new HttpClient();
        // A URL on a port nobody listens on: the connection is refused, and the error says which URL.
        IOException error = await Assert.ThrowsAsync<IOException>(() => ResumableHttpStream.OpenAsync(http, new Uri("http://127.0.0.1:1/none")));

        Assert.Contains("http://127.0.0.1:1/none", error.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(error.InnerException, exactMatch: false);
    }

    /// <summary>Short timeouts, so a server that never answers fails a test in seconds; plenty of retries left.</summary>
    private static HttpReadOptions ShortTimeouts(double stallSeconds) => new()
    {
        MaxRetries = 5,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        // Short, but not so short that a loaded CI machine's slow (healthy) answer counts as a stall.
        ConnectTimeout = TimeSpan.FromSeconds(3),
        ResponseTimeout = TimeSpan.FromSeconds(3),
        StallTimeout = TimeSpan.FromSeconds(stallSeconds),
    };

    private static readonly TimeSpan s_notForever = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ReadAsync_ServerAcceptsButNeverAnswers_FailsWithinTheResponseTimeout()
    {
        await using var server = new LoopbackHttpServer(SyntheticDump(10)) { AnswerNothing = true };
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(1) });
        var clock = Stopwatch.StartNew();

        IOException error = await Assert.ThrowsAnyAsync<IOException>(() => Collect.DocumentsAsync(reader)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(clock.Elapsed < s_notForever, $"took {clock.Elapsed}");
        Assert.Contains($"at byte 0 of {server.Url}", error.Message, StringComparison.Ordinal);
        Assert.Contains("accepted the connection but sent no response headers", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.Requests);
        Assert.Null(reader.Statistics.Waiting);
    }

    [Fact]
    public async Task ReadAsync_ServerSendsHeadersThenStalls_FailsWithinTheStallBudget()
    {
        await using var server = new LoopbackHttpServer(SyntheticDump(10)) { StallAfterBytes = 0 };
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(1.5) });
        var clock = Stopwatch.StartNew();

        IOException error = await Assert.ThrowsAnyAsync<IOException>(() => Collect.DocumentsAsync(reader)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(clock.Elapsed < s_notForever, $"took {clock.Elapsed}");
        Assert.Matches($@"^no data for [\d.]+ s at byte 0 of {Regex.Escape(server.Url)}", error.Message);
        Assert.Contains("sent the response headers but no data", error.Message, StringComparison.Ordinal);
        Assert.Contains("--stall-timeout", error.Message, StringComparison.Ordinal);
        // The budget is spent waiting on the first connection: no resume could have more time.
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task ReadAsync_ServerStallsMidBody_FailsNamingTheOffsetReached()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { StallAfterBytes = 5000 };
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(1.5) });
        var clock = Stopwatch.StartNew();

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(clock.Elapsed < s_notForever, $"took {clock.Elapsed}");
        Assert.Contains($"at byte 5000 of {server.Url}", error.Message, StringComparison.Ordinal);
        Assert.Contains("stopped sending data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_ResumeAfterADropStalls_TheBudgetSpansResumes()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = 3000, DropRequests = 1, StallAfterBytes = 0, MisbehaveFromRequest = 2 };
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(2) });
        var clock = Stopwatch.StartNew();

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(clock.Elapsed < s_notForever, $"took {clock.Elapsed}");
        Assert.Contains($"at byte 3000 of {server.Url} after 1 resume;", error.Message, StringComparison.Ordinal);
        Assert.Contains("sent the response headers but no data", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task ReadAsync_ResumesNeverAnswered_FailWhenTheStallBudgetRunsOut()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = 3000, DropRequests = 1, AnswerNothing = true, MisbehaveFromRequest = 2 };
        // Each resume may wait up to 6 s (connect + response timeout); the 3 s stall budget ends the read first.
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(3) });
        var clock = Stopwatch.StartNew();

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(clock.Elapsed < s_notForever, $"took {clock.Elapsed}");
        Assert.Matches($@"no data for [\d.]+ s at byte 3000 of {Regex.Escape(server.Url)} after [123] resumes?;", error.Message);
        Assert.Contains("accepted the connection but sent no response headers", error.Message, StringComparison.Ordinal);
        Assert.InRange(server.Requests, 2, 4);
    }

    [Fact]
    public async Task Statistics_ServerStalls_ReportsTheWaitUntilTheReadGivesUp()
    {
        byte[] content = SyntheticDump(200);
        await using var server = new LoopbackHttpServer(content) { StallAfterBytes = 5000 };
        var reader = new CirrusSearchDumpReader(server.Url, new CirrusSearchOptions { Http = ShortTimeouts(5) });

        Task<List<Document>> reading = Collect.DocumentsAsync(reader);
        (string What, TimeSpan For)? waiting = null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && !reading.IsCompleted)
        {
            // On a loaded machine the connection itself may take over a second ("waiting for 127.0.0.1 to answer"):
            // that is reported too, and the stall this test makes comes after it.
            if (reader.Statistics.Waiting is { For.TotalSeconds: > 1 } seen && seen.What != "waiting for 127.0.0.1 to answer")
            {
                waiting = seen;
                break;
            }
            await Task.Delay(50);
        }

        Assert.NotNull(waiting);
        Assert.Equal("waiting for data from 127.0.0.1", waiting.Value.What);
        Assert.True(waiting.Value.For < TimeSpan.FromSeconds(5), $"waited {waiting.Value.For}");
        await Assert.ThrowsAsync<SourceFormatException>(() => reading).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Null(reader.Statistics.Waiting);
    }
}

