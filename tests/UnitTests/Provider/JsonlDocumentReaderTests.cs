using StreamLoader.Core.Documents;
using StreamLoader.Provider.Jsonl;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

public sealed class JsonlDocumentReaderTests
{
    [SkippableFact]
    public async Task ReadAsync_SharedPythonDocs_Yields497Documents()
    {
        string path = SharedData.Require(SharedData.PythonDocs);
        var reader = new JsonlDocumentReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(497, docs.Count);
        Assert.Equal(0, reader.Statistics.Skipped);
        Assert.Equal(497, docs.Select(d => d.Id).Distinct().Count());
        Assert.True(docs.Sum(d => (long)d.Length) > 10_000_000);
    }

    [Fact]
    public async Task ReadAsync_ConfiguredFields_NumericIdsAndLabels()
    {
        using var files = new TempFiles();
        string path = files.WriteText("data.jsonl",
            "{\"doc\":1,\"body\":\"first\",\"label\":[\"a\",\"b\"]}\n" +
            "\n" +
            "{\"doc\":2,\"body\":\"second\",\"label\":7}\r\n" +
            "{\"body\":\"third has no id\"}");

        List<Document> docs = await Collect.DocumentsAsync(new JsonlDocumentReader(path, new JsonlOptions { TextFields = ["body"], IdField = "doc" }));

        Assert.Equal(["1", "2", "4"], docs.Select(d => d.Id));
        Assert.Equal(["a", "b"], docs[0].Labels!);
        Assert.Equal(["7"], docs[1].Labels!);
        Assert.Equal("third has no id", docs[2].Text);
    }

    [Fact]
    public async Task ReadAsync_MissingTextFieldAndTrailingGarbage_AreCountedSkips()
    {
        using var files = new TempFiles();
        string path = files.WriteText("data.jsonl",
            "{\"id\":\"a\",\"text\":\"ok\"}\n{\"id\":\"b\",\"content\":\"wrong field\"}\n{\"id\":\"c\",\"text\":\"x\"} trailing\n{\"id\":\"d\",\"text\":\"  \"}\n");
        var reader = new JsonlDocumentReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal("a", Assert.Single(docs).Id);
        Assert.Equal(1, reader.Statistics.SkippedByReason["missing_text_field"]);
        Assert.Equal(1, reader.Statistics.SkippedByReason["malformed_json"]);
        Assert.Equal(1, reader.Statistics.SkippedByReason["empty_text"]);
    }

    [Fact]
    public async Task ReadAsync_EscapesInText_DecodeAsJsonSaysAndALoneSurrogateIsAMalformedRecord()
    {
        // Text decodes through one buffer kept for the file (JsonStringDecoder); a long escaped text first, so that
        // the buffer has grown when the short ones come, and what it held before must not leak into them.
        string longText = string.Concat(Enumerable.Repeat("line\\n\\t\\\"q\\\" caf\\u00e9 ", 5000));
        using var files = new TempFiles();
        string path = files.WriteText("data.jsonl",
            "{\"id\":\"long\",\"text\":\"" + longText + "\"}\n" +
            "{\"id\":\"short\",\"text\":\"a\\nb\"}\n" +
            "{\"id\":\"plain\",\"text\":\"no escapes, caf\u00e9\"}\n" +
            "{\"id\":\"pair\",\"text\":\"\\ud83d\\ude00 smile\"}\n" +
            "{\"id\":\"lone\",\"text\":\"bad \\ud800 half\"}\n");
        var reader = new JsonlDocumentReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(["long", "short", "plain", "pair"], docs.Select(d => d.Id));
        Assert.Equal(string.Concat(Enumerable.Repeat("line\n\t\"q\" café ", 5000)), docs[0].Text);
        Assert.Equal("a\nb", docs[1].Text);
        Assert.Equal("no escapes, café", docs[2].Text);
        Assert.Equal("\U0001F600 smile", docs[3].Text);
        Assert.Equal(1, reader.Statistics.SkippedByReason["malformed_json"]);
    }

    [Fact]
    public async Task ReadAsync_EmptyFile_YieldsNothing()
    {
        using var files = new TempFiles();
        string path = files.WriteText("empty.jsonl", string.Empty);

        Assert.Empty(await Collect.DocumentsAsync(new JsonlDocumentReader(path)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadAsync_ByteOrderMarkAndCrlf_YieldsEveryRecord(bool gzip)
    {
        using var files = new TempFiles();
        const string Content = "\uFEFF{\"id\":\"a\",\"text\":\"first\"}\r\n{\"id\":\"b\",\"text\":\"second\"}\r\n{\"text\":\"third\",\"id\":\"c\"}\r\n";
        string path = gzip ? files.WriteBytes("bom.jsonl.gz", TempFiles.Gzip(Content)) : files.WriteText("bom.jsonl", Content);
        var reader = new JsonlDocumentReader(path);

        List<Document> docs = await Collect.DocumentsAsync(reader);

        Assert.Equal(["a", "b", "c"], docs.Select(d => d.Id));
        Assert.Equal(["first", "second", "third"], docs.Select(d => d.Text));
        Assert.Equal(0, reader.Statistics.Skipped);
        Assert.Equal(3, reader.Statistics.RecordsRead);
    }

    /// <summary>A file cut off inside its last line says so, with the file, line and offset, not the JSON parser's words alone.</summary>
    [Fact]
    public async Task ReadAsync_LastLineCutOff_IsCountedAsTruncated_AndAMalformedLineBeforeItIsNot()
    {
        using var files = new TempFiles();
        const string content = "{\"id\":1,\"text\":\"one\"}\n{\"id\":2,\"text\":\"two\"\n{\"id\":3,\"text\":\"three\"}\n{\"id\":4,\"text\":\"fo";
        string path = files.WriteText("cut.jsonl", content);
        var reader = new JsonlDocumentReader(path);

        List<Document> documents = await Collect.DocumentsAsync(reader);

        Assert.Equal(["one", "three"], documents.Select(d => d.Text));
        Assert.Equal(1, reader.Statistics.SkippedByReason["malformed_json"]);
        Assert.Equal(1, reader.Statistics.SkippedByReason["truncated"]);
        string truncated = Assert.Single(reader.Statistics.Examples["truncated"]);
        Assert.Contains($"cut.jsonl: line 4 (byte offset {content.LastIndexOf('\n') + 1})", truncated, StringComparison.Ordinal);
        Assert.Contains("cut off", truncated, StringComparison.Ordinal);

        var failing = new JsonlOptions { Lines = new StreamLoader.Provider.Input.LineReaderOptions { OnBadRecord = StreamLoader.Provider.Input.BadRecordPolicy.Fail } };
        string cut = files.WriteText("cut2.jsonl", "{\"id\":1,\"text\":\"one\"}\n{\"id\":2,\"te");
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new JsonlDocumentReader(cut, failing)));
        Assert.Contains("cut2.jsonl", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }
}
