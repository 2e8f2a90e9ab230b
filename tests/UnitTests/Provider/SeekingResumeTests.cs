using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// Resuming in the middle of one local, uncompressed file seeks to a record read before (the oldest one the shuffle
/// buffer still needs) instead of reading the file again from its start, and still continues exactly.
/// </summary>
public sealed class SeekingResumeTests
{
    private const int Count = 2000;

    private static string Write(TempFiles files, string format) => format switch
    {
        "jsonl" => files.WriteText("big.jsonl", string.Concat(Enumerable.Range(0, Count).Select(i => $"{{\"id\":\"d{i}\",\"text\":\"text of d{i}\"}}\n"))),
        "csv" => files.WriteText("big.csv", "id,text\n" + string.Concat(Enumerable.Range(0, Count).Select(i => $"d{i},\"text of d{i}\non two lines\"\n"))),
        // A byte order mark, CRLF line ends and no id column: ids are lines, which must survive the seek.
        "csv-bom" => files.WriteText("bom.csv", "\uFEFFtext\r\n" + string.Concat(Enumerable.Range(0, Count).Select(i => $"text of d{i}\r\n"))),
        "cirrussearch" => files.WriteText("big.json", string.Concat(Enumerable.Range(0, Count).Select(i => TempFiles.CirrusPage($"{i}", $"P{i}", $"text of d{i}")))),
        _ => throw new ArgumentException(format),
    };

    [Theory]
    [InlineData("jsonl", 1, 0, 1500)]
    [InlineData("jsonl", 1, 16, 1500)]
    [InlineData("jsonl", 2, 16, 700)]
    [InlineData("jsonl", 1, 64, 1999)]
    [InlineData("jsonl", 1, 40, 400)]
    [InlineData("jsonl", 1, 40, 1100)]
    [InlineData("csv", 1, 16, 1200)]
    [InlineData("csv", 3, 0, 600)]
    [InlineData("cirrussearch", 1, 16, 1800)]
    [InlineData("csv-bom", 1, 0, 300)]
    [InlineData("csv-bom", 1, 16, 1700)]
    public async Task Resume_MidFile_SeeksInsteadOfRereadingAndContinuesExactly(string format, int worldSize, int buffer, int stopAfter)
    {
        using var files = new TempFiles();
        string path = Write(files, format);
        var options = new DocumentStreamOptions { Seed = 3, ShuffleBuffer = buffer, Epochs = 2, Rank = new RankInfo(worldSize - 1, worldSize) };
        IDocumentSource uninterrupted = SourceFactory.Create(path);
        List<string> whole = await Collect.TextsAsync(new DocumentStream(uninterrupted, options));

        var first = new DocumentStream(SourceFactory.Create(path), options);
        List<string> head = await Collect.TextsAsync(first, take: stopAfter);
        string saved = files.Path("position.json");
        first.Positions.PositionAt(stopAfter).Save(saved);
        ProviderPosition position = ProviderPosition.Load(saved);
        IDocumentSource again = SourceFactory.Create(path);
        var second = new DocumentStream(again, options);
        List<string> tail = await Collect.TextsAsync(second, position);

        Assert.Equal(whole, head.Concat(tail));
        Assert.NotNull(position.Seek);
        Assert.True(second.ResumeSeekedTo > 0, "the resume read the file from its start");
        Assert.Equal(await Ids(path, options), [.. await Ids(path, options, take: stopAfter), .. await Ids(path, options, first.Positions.PositionAt(stopAfter))]);
        Assert.True(again.Statistics.RecordsRead < uninterrupted.Statistics.RecordsRead, $"{again.Statistics.RecordsRead} records read, {uninterrupted.Statistics.RecordsRead} by the uninterrupted run");
    }

    [Fact]
    public async Task Resume_OverHttp_AsksForARangeInsteadOfDownloadingAgain()
    {
        using var files = new TempFiles();
        byte[] content = File.ReadAllBytes(Write(files, "jsonl"));
        await using var server = new LoopbackHttpServer(content) { Name = "big.jsonl" };
        var options = new DocumentStreamOptions { Seed = 3, ShuffleBuffer = 16 };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(server.Url), options));

        var first = new DocumentStream(SourceFactory.Create(server.Url), options);
        List<string> head = await Collect.TextsAsync(first, take: 1500);
        ProviderPosition position = first.Positions.PositionAt(1500);
        int rangesBefore = server.Ranges.Count;
        var second = new DocumentStream(SourceFactory.Create(server.Url), options);
        List<string> tail = await Collect.TextsAsync(second, position);

        Assert.Equal(whole, head.Concat(tail));
        Assert.NotNull(position.Seek);
        string range = Assert.Single(server.Ranges.Skip(rangesBefore));
        Assert.Equal($"Range: bytes={position.Seek!.Offset}-", range);
        Assert.True(position.Seek.Offset > content.Length / 2, $"sought to byte {position.Seek.Offset} of {content.Length}");
    }

    [Fact]
    public async Task Resume_OverHttpAfterTheResourceChanged_FailsSayingSo()
    {
        using var files = new TempFiles();
        byte[] content = File.ReadAllBytes(Write(files, "jsonl"));
        await using var server = new LoopbackHttpServer(content) { Name = "big.jsonl", ChangeFromRequest = 3 }; // requests: first run's sniff and read, then the resume's sniff and seek
        var options = new DocumentStreamOptions { Seed = 3, ShuffleBuffer = 16 };
        var first = new DocumentStream(SourceFactory.Create(server.Url), options);
        await Collect.TextsAsync(first, take: 1500);
        ProviderPosition position = first.Positions.PositionAt(1500);

        var second = new DocumentStream(SourceFactory.Create(server.Url), options);
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => Collect.TextsAsync(second, position));

        Assert.Contains("changed since the position was saved", error.Message, StringComparison.Ordinal);
        Assert.Contains(server.Url, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_CompressedFile_ReplaysFromTheStartAndStillContinuesExactly()
    {
        using var files = new TempFiles();
        string path = files.WriteBytes("big.jsonl.gz", TempFiles.Gzip(File.ReadAllText(Write(files, "jsonl"))));
        var options = new DocumentStreamOptions { Seed = 3, ShuffleBuffer = 16 };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(path), options));

        var first = new DocumentStream(SourceFactory.Create(path), options);
        List<string> head = await Collect.TextsAsync(first, take: 1500);
        ProviderPosition position = first.Positions.PositionAt(1500);
        var second = new DocumentStream(SourceFactory.Create(path), options);
        List<string> tail = await Collect.TextsAsync(second, position);

        Assert.Equal(whole, head.Concat(tail));
        Assert.Null(position.Seek);
        Assert.Equal(-1, second.ResumeSeekedTo);
    }

    private static Task<List<string>> Ids(string path, DocumentStreamOptions options, ProviderPosition? resume = null, int take = int.MaxValue) =>
        Collect.IdsAsync(new DocumentStream(SourceFactory.Create(path), options), resume, take);
}
