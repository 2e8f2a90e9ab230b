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
}
