using System.Text;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Wikipedia;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>An XML dump that breaks off says it is truncated, with the file and offset; XML broken inside says what the parser found.</summary>
public sealed class WikipediaXmlReaderTests
{
    private static string Dump(int pages)
    {
        var xml = new StringBuilder("<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\" version=\"0.10\">\n");
        for (int i = 0; i < pages; i++)
        {
            xml.Append($"<page><title>Page {i}</title><ns>0</ns><id>{i}</id><revision><id>9{i}</id><text xml:space=\"preserve\">Salt &amp; pepper, page {i}.</text></revision></page>\n");
        }
        return xml.Append("</mediawiki>\n").ToString();
    }

    [Theory]
    [InlineData("&am")] // inside an entity: the parser says "parsing EntityName"
    [InlineData("<revision><id>9")] // inside an element
    public async Task ReadAsync_DumpCutOff_IsAnErrorThatSaysTruncated_NamingTheFileAndOffset(string cutAfter)
    {
        using var files = new TempFiles();
        string whole = Dump(40);
        int cut = whole.IndexOf(cutAfter, whole.Length / 2, StringComparison.Ordinal) + cutAfter.Length;
        string path = files.WriteText("cut-pages.xml", whole[..cut]);

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new WikipediaXmlReader(path)));

        Assert.Contains("cut-pages.xml", error.Message, StringComparison.Ordinal);
        Assert.Contains("the XML is truncated", error.Message, StringComparison.Ordinal);
        Assert.Contains($"byte offset {cut}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_XmlBrokenInTheMiddle_IsNotCalledTruncated()
    {
        using var files = new TempFiles();
        string whole = Dump(400);
        string path = files.WriteText("broken-pages.xml", whole.Replace("<title>Page 7</title>", "<title>Page 7</titel>", StringComparison.Ordinal));

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new WikipediaXmlReader(path)));

        Assert.Contains("broken-pages.xml", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("truncated", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A dump with a DTD (entity expansion, "billion laughs", or an external entity naming a local file) is refused before
    /// any entity is expanded or any file read: DTD processing is off, and the message names the file.
    /// </summary>
    [Theory]
    [InlineData("<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">", "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;")]
    [InlineData("<!ENTITY secret SYSTEM \"file:///etc/hostname\">", "&secret;")]
    public async Task ReadAsync_DumpWithADtd_IsRefusedNamingTheFile_NoEntityExpanded(string declarations, string use)
    {
        using var files = new TempFiles();
        string xml = $"<?xml version=\"1.0\"?>\n<!DOCTYPE mediawiki [{declarations}]>\n" + Dump(3).Replace("Salt &amp; pepper", use, StringComparison.Ordinal);
        string path = files.WriteText("entities.xml", xml);

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new WikipediaXmlReader(path)));

        Assert.Contains("entities.xml", error.Message, StringComparison.Ordinal);
        Assert.Contains("DTD", error.Message, StringComparison.Ordinal);
    }
}
