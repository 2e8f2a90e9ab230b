using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>Plain text is what no other format claims, but markup is not taken for prose.</summary>
public sealed class TextFormatTests
{
    [Theory]
    [InlineData("records.json", "[\n  {\"id\": 1, \"text\": \"one\"}\n]\n")]
    [InlineData("error.html", "<!DOCTYPE html>\n<html><body>503 Service Unavailable</body></html>\n")]
    public void Detect_MarkupNoFormatReads_IsNotTakenForText(string name, string content)
    {
        using var files = new TempFiles();
        string path = files.WriteText(name, content);

        SourceFormatException error = Assert.Throws<SourceFormatException>(() => SourceFactory.Catalog.Detect(path, new()));

        Assert.Contains("cannot tell its format", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Detect_ProseNamedTxt_IsTextEvenWhenItStartsWithABracket()
    {
        using var files = new TempFiles();
        string path = files.WriteText("notes.txt", "[1] Introduction\n\nSome prose.\n");

        List<Document> documents = await Collect.DocumentsAsync(SourceFactory.Create(path));

        Assert.Equal("text", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Assert.Equal("[1] Introduction\n\nSome prose.", Assert.Single(documents).Text);
    }

    /// <summary>A document past the size limit (a huge file read whole) is a counted oversized skip, never built in memory.</summary>
    [Fact]
    public async Task ReadAsync_DocumentPastTheSizeLimit_IsCountedOversized_TheNextParagraphIsRead()
    {
        using var files = new TempFiles();
        string path = files.WriteText("book.txt", string.Join('\n', Enumerable.Repeat("forty bytes of prose, line after line..", 50)) + "\n\nA short last paragraph.\n");
        var options = new StreamLoader.Provider.Text.TextOptions { Split = StreamLoader.Provider.Text.TextSplit.Paragraph, Lines = new StreamLoader.Provider.Input.LineReaderOptions { MaxLineBytes = 1000 } };
        var reader = new StreamLoader.Provider.Text.TextDocumentReader(path, options);

        List<Document> documents = await Collect.DocumentsAsync(reader);

        Assert.Equal("A short last paragraph.", Assert.Single(documents).Text);
        Assert.Equal(1, reader.Statistics.SkippedByReason["oversized"]);
        Assert.Contains("line 1 (byte offset 0)", Assert.Single(reader.Statistics.Examples["oversized"]), StringComparison.Ordinal);
    }
}
