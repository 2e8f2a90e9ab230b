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

    /// <summary>
    /// Elements nested without end (the XML reader keeps a frame per open element, so memory would grow with the file)
    /// are refused past 64 levels, between pages or inside one, naming the file and line.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadAsync_ElementsNestedThousandsDeep_AreRefusedNamingTheFile(bool insideAPage)
    {
        using var files = new TempFiles();
        string deep = string.Concat(Enumerable.Repeat("<a>", 100_000)) + string.Concat(Enumerable.Repeat("</a>", 100_000));
        string dump = Dump(3);
        string xml = insideAPage
            ? dump.Replace("<ns>0</ns><id>1</id>", "<ns>0</ns><id>1</id>" + deep, StringComparison.Ordinal)
            : dump.Replace("<page>", deep + "<page>", StringComparison.Ordinal);
        string path = files.WriteText("deep.xml", xml);

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(new WikipediaXmlReader(path)));

        Assert.Contains("deep.xml", error.Message, StringComparison.Ordinal);
        Assert.Contains("nested more than 64 deep", error.Message, StringComparison.Ordinal);
        Assert.Contains("line ", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A page's text longer than a record may be is read in chunks and never held: the page is a counted
    /// <c>oversized</c> skip naming it, and the pages around it are read. Entities in a kept text are still decoded.
    /// </summary>
    [Fact]
    public async Task ReadAsync_PageTextOverTheRecordLimit_IsACountedSkip_TheOthersRead()
    {
        using var files = new TempFiles();
        string big = new('x', 200_000);
        string path = files.WriteText("big-page.xml", Dump(5).Replace("Salt &amp; pepper, page 2.", big, StringComparison.Ordinal));
        var options = new WikipediaXmlOptions { Lines = new() { MaxLineBytes = 100_000 } };
        var reader = new WikipediaXmlReader(path, options);

        List<Document> documents = await Collect.DocumentsAsync(reader);

        Assert.Equal(["0", "1", "3", "4"], documents.Select(d => d.Id));
        Assert.Equal("Salt & pepper, page 3.", documents[2].Text);
        Assert.Equal(1, reader.Statistics.SkippedByReason["oversized"]);
        Assert.Contains(reader.Statistics.Examples["oversized"], e => e.Contains("page 2", StringComparison.Ordinal) && e.Contains("200,000 characters", StringComparison.Ordinal));
    }
}
