using StreamLoader.Core.Documents;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

public sealed class CirrusSearchDumpReaderTests
{
    [SkippableFact]
    public async Task ReadAsync_SharedSample_Yields106ArticlesWithTitlesAndText()
    {
        string path = SharedData.Require(SharedData.CirrusSample);
        var reader = new CirrusSearchDumpReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(106, docs.Count);
        Assert.Equal(212, reader.Statistics.RecordsRead);
        Assert.Equal(0, reader.Statistics.Skipped);
        Assert.Equal("Anarchism", docs[0].Metadata!["title"]);
        Assert.Equal("12", docs[0].Id);
        Assert.StartsWith("Anarchism is a political philosophy", docs[0].Text, StringComparison.Ordinal);
        Assert.All(docs, d => Assert.False(string.IsNullOrWhiteSpace(d.Text)));
        Assert.All(docs, d => Assert.Equal("0", d.Metadata!["namespace"]));
        Assert.Equal(docs.Count, docs.Select(d => d.Id).Distinct().Count());
        Assert.Contains(docs, d => d.Metadata!["title"] == "Autism");
    }

    [Fact]
    public async Task ReadAsync_OtherNamespaces_AreSkippedAndCounted()
    {
        using var files = new TempFiles();
        string path = files.WriteBytes("dump-cirrussearch.json.gz", TempFiles.Gzip(
            TempFiles.CirrusPage("1", "Article", "Some text.") +
            TempFiles.CirrusPage("2", "Talk:Article", "Talk text.", ns: 1) +
            TempFiles.CirrusPage("3", "User:Someone", "User text.", ns: 2) +
            TempFiles.CirrusPage("4", "Second", "More text.")));

        var reader = new CirrusSearchDumpReader(path);
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(["1", "4"], docs.Select(d => d.Id));
        Assert.Equal(2, reader.Statistics.SkippedByReason["namespace"]);
    }

    [Fact]
    public async Task ReadAsync_ConfiguredNamespaces_KeepsThose()
    {
        using var files = new TempFiles();
        string path = files.WriteText("dump.json",
            TempFiles.CirrusPage("1", "Article", "Some text.") + TempFiles.CirrusPage("2", "Talk:Article", "Talk text.", ns: 1));

        var reader = new CirrusSearchDumpReader(path, new CirrusSearchOptions { Namespaces = new HashSet<int> { 1 } });
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal("2", Assert.Single(docs).Id);
    }

    [Fact]
    public async Task ReadAsync_PlainJsonWithoutIndexLines_UsesPageId()
    {
        using var files = new TempFiles();
        string path = files.WriteText("dump.json", "{\"namespace\":0,\"title\":\"A\",\"text\":\"alpha\",\"page_id\":77}\n{\"namespace\":0,\"title\":\"B\",\"text\":\"beta\",\"page_id\":78}");

        List<Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(path));

        Assert.Equal(["77", "78"], docs.Select(d => d.Id));
    }

    [Fact]
    public async Task ReadAsync_ConcatenatedGzipMembers_ReadsAcrossMembers()
    {
        using var files = new TempFiles();
        string path = files.WriteBytes("multi.json.gz", TempFiles.Gzip(
            TempFiles.CirrusPage("1", "One", "first member"),
            TempFiles.CirrusPage("2", "Two", "second member"),
            TempFiles.CirrusPage("3", "Three", "third member")));

        List<Document> docs = await Collect.DocumentsAsync(new CirrusSearchDumpReader(path));

        Assert.Equal(["1", "2", "3"], docs.Select(d => d.Id));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public async Task ReadAsync_TruncatedGzip_FailsNamingFileAndOffset(double keep)
    {
        using var files = new TempFiles();
        string body = string.Concat(Enumerable.Range(0, 300).Select(i => TempFiles.CirrusPage(i.ToString(), $"T{i}", TestTokenizer.Words(200, i))));
        byte[] gz = TempFiles.Gzip(body);
        string path = files.WriteBytes("cut.json.gz", gz[..(int)(gz.Length * keep)]);

        var reader = new CirrusSearchDumpReader(path);
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader));

        Assert.Contains("cut.json.gz", error.Message, StringComparison.Ordinal);
        Assert.Contains("byte offset", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated or corrupt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_GzNameWithoutGzipData_FailsClearly()
    {
        using var files = new TempFiles();
        string path = files.WriteText("not-really.json.gz", TempFiles.CirrusPage("1", "A", "text"));

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new CirrusSearchDumpReader(path)));

        Assert.Contains("does not start with gzip's magic bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_MalformedAndInvalidUtf8Lines_AreSkippedCountedAndLocated()
    {
        using var files = new TempFiles();
        var bytes = new List<byte>();
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(TempFiles.CirrusPage("1", "Good", "fine text")));
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes("{\"index\":{\"_id\":\"2\"}}\n{\"namespace\":0,\"title\":\"Broken\",\"text\":\"unterminated\n"));
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes("{\"index\":{\"_id\":\"3\"}}\n{\"namespace\":0,\"title\":\"Bad bytes\",\"text\":\"caf"));
        bytes.AddRange([0xC3, 0x28]); // invalid UTF-8 sequence
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes("\"}\n"));
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(TempFiles.CirrusPage("4", "Also good", "more text")));
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(TempFiles.CirrusPage("5", "Empty", "")));
        string path = files.WriteBytes("mixed.json", bytes.ToArray());

        var reader = new CirrusSearchDumpReader(path);
        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(["1", "4"], docs.Select(d => d.Id));
        Assert.Equal(1, reader.Statistics.SkippedByReason["malformed_json"]);
        Assert.Equal(1, reader.Statistics.SkippedByReason["invalid_utf8"]);
        Assert.Equal(1, reader.Statistics.SkippedByReason["empty_text"]);
        Assert.Contains("line 4", reader.Statistics.Examples["malformed_json"][0], StringComparison.Ordinal);
        Assert.Contains("line 6", reader.Statistics.Examples["invalid_utf8"][0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_FailPolicy_StopsAtFirstBadRecordWithLine()
    {
        using var files = new TempFiles();
        string path = files.WriteText("dump.json", TempFiles.CirrusPage("1", "Good", "x") + "{not json}\n");
        var reader = new CirrusSearchDumpReader(path, new CirrusSearchOptions { Lines = new LineReaderOptions { OnBadRecord = BadRecordPolicy.Fail } });

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader));

        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("malformed_json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_WrongFormatEntirely_FailsAfterARunOfBadRecords()
    {
        using var files = new TempFiles();
        string path = files.WriteText("dump.json", string.Concat(Enumerable.Repeat("this is not json at all\n", 500)));

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new CirrusSearchDumpReader(path)));

        Assert.Contains("in a row", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 100", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_GiantLine_IsSkippedAsOversizedAndReadingContinues()
    {
        using var files = new TempFiles();
        string giant = new('x', 300_000);
        string path = files.WriteText("dump.json",
            TempFiles.CirrusPage("1", "Before", "a") + TempFiles.CirrusPage("2", "Giant", giant) + TempFiles.CirrusPage("3", "After", "c"));
        var reader = new CirrusSearchDumpReader(path, new CirrusSearchOptions { Lines = new LineReaderOptions { MaxLineBytes = 100_000 } });

        List<Document> docs = await Collect.DocumentsAsync(reader);

        // The giant document line is skipped; its index line then precedes the next index line, which is fine.
        Assert.Equal(["1", "3"], docs.Select(d => d.Id));
        Assert.Equal(1, reader.Statistics.SkippedByReason["oversized"]);
    }

    [Fact]
    public async Task ReadAsync_LargeDocumentUnderTheLimit_IsKeptWhole()
    {
        using var files = new TempFiles();
        string big = TestTokenizer.Words(200_000);
        string path = files.WriteBytes("big.json.gz", TempFiles.Gzip(TempFiles.CirrusPage("9", "Big", big)));

        Document doc = Assert.Single(await Collect.DocumentsAsync(new CirrusSearchDumpReader(path)));

        Assert.Equal(big, doc.Text);
    }

    [Fact]
    public async Task ReadAsync_MissingFile_FailsNamingIt()
    {
        FileNotFoundException error = await Assert.ThrowsAsync<FileNotFoundException>(() => Collect.DocumentsAsync(new CirrusSearchDumpReader("/nonexistent/dump.json.gz")));
        Assert.Contains("/nonexistent/dump.json.gz", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadAsync_ByteOrderMarkAndCrlf_YieldsEveryPage(bool gzip)
    {
        using var files = new TempFiles();
        string content = "\uFEFF" + (TempFiles.CirrusPage("1", "First", "One.") + TempFiles.CirrusPage("2", "Second", "Two.")).Replace("\n", "\r\n", StringComparison.Ordinal);
        string path = gzip ? files.WriteBytes("bom-cirrussearch.json.gz", TempFiles.Gzip(content)) : files.WriteText("bom-cirrussearch.json", content);
        var reader = new CirrusSearchDumpReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(["1", "2"], docs.Select(d => d.Id));
        Assert.Equal(["First", "Second"], docs.Select(d => d.Metadata!["title"]));
        Assert.Equal(["One.", "Two."], docs.Select(d => d.Text));
        Assert.Equal(0, reader.Statistics.Skipped);
        Assert.Equal(4, reader.Statistics.RecordsRead);
    }
}

