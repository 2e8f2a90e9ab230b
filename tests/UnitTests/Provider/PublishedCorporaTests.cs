using System.Text;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>The shared real corpora read through the catalog, as <c>streamloader scan</c> reads them, and bad input fed to each reader.</summary>
public sealed class PublishedCorporaTests
{
    private const string XmlDump = "wiki/enwiki-pages-articles-shortened-205pages.xml.bz2";
    private const string MadeWithMl = "labelled/made-with-ml/dataset.csv";
    private const string GoEmotions = "labelled/goemotions/train.tsv";

    private static SourceSettings Columns(string text, string? label = null, IReadOnlyDictionary<string, string>? options = null) => new()
    {
        Columns = new SourceColumns { Text = text.Split(','), Label = label, LabelRequired = label is not null, TextGiven = true },
        FormatOptions = options ?? new Dictionary<string, string>(),
    };

    [SkippableFact]
    public async Task CirrusSearch_RenamedWithoutCirrusInTheName_Reads106Pages()
    {
        using var files = new TempFiles();
        string renamed = files.WriteBytes("enwiki-sample.json.gz", File.ReadAllBytes(SharedData.Require(SharedData.CirrusSample)));

        IDocumentSource source = SourceFactory.Create(renamed);
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal("cirrussearch", SourceFactory.Catalog.Detect(renamed, new()).Format.Name);
        Assert.Equal(106, docs.Count);
        Assert.Equal(0, source.Statistics.Skipped);
    }

    /// <summary>The Jargon File, plain text in gzip: detected as text, and read whole, by paragraph or by line without losing a line.</summary>
    [SkippableFact]
    public async Task Text_JargonFile_DetectedAsText_WholeByParagraphOrByLine()
    {
        string path = SharedData.Require("text/jargon-4.4.7.txt.gz");
        string[] lines;
        using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip, Encoding.UTF8))
        {
            lines = reader.ReadToEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        }
        string[] nonBlank = lines.Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();

        List<Document> whole = await Collect.DocumentsAsync(SourceFactory.Create(path));
        IDocumentSource byParagraph = SourceFactory.Create(path, Columns("text", options: new Dictionary<string, string> { ["split-on"] = "paragraph" }));
        List<Document> paragraphs = await Collect.DocumentsAsync(byParagraph);
        IDocumentSource byLine = SourceFactory.Create(path, Columns("text", options: new Dictionary<string, string> { ["split-on"] = "line" }));
        List<Document> perLine = await Collect.DocumentsAsync(byLine);

        Assert.Equal("text", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Document file = Assert.Single(whole);
        Assert.Equal("jargon-4.4.7.txt.gz", file.Id);
        Assert.Equal(nonBlank, file.Text.Split('\n').Where(l => !string.IsNullOrWhiteSpace(l)));
        Assert.Equal(nonBlank, paragraphs.SelectMany(p => p.Text.Split('\n')));
        Assert.True(paragraphs.Count > 1000, $"{paragraphs.Count} paragraphs");
        Assert.All(paragraphs, p => Assert.Equal(p.SourceLine.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Id));
        Assert.Equal(0, byParagraph.Statistics.Skipped);
        // Every line is a document, the blank ones counted as empty: none lost, none silent.
        Assert.Equal(nonBlank, perLine.Select(d => d.Text));
        Assert.Equal(lines.Length - (lines[^1].Length == 0 ? 1 : 0), perLine.Count + byLine.Statistics.SkippedByReason["empty_text"]);
    }

    [Fact]
    public async Task CirrusSearch_NewerDumpWithoutType_DetectedAndRead()
    {
        using var files = new TempFiles();
        string lines = string.Concat(Enumerable.Range(0, 5).Select(i => $"{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"namespace\":0,\"title\":\"T{i}\",\"text\":\"text {i}\"}}\n"));
        string path = files.WriteBytes("dump.gz", TempFiles.Gzip(lines));

        List<Document> docs = await Collect.DocumentsAsync(SourceFactory.Create(path));

        Assert.Equal("cirrussearch", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Assert.Equal(["0", "1", "2", "3", "4"], docs.Select(d => d.Id));
    }

    [Fact]
    public async Task Jsonl_TextFieldMissing_SkipsNamingTheFieldsThereAre()
    {
        using var files = new TempFiles();
        string path = files.WriteText("d.jsonl", "{\"id\":1,\"body\":\"x\"}\n{\"id\":2,\"text\":\"y\"}\n");

        IDocumentSource source = SourceFactory.Create(path);
        await Collect.DocumentsAsync(source);

        Assert.Contains("its fields are: 'id', 'body'", Assert.Single(source.Statistics.Examples["missing_text_field"]), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task CirrusSearch_OverHttpCutEightTimes_Reads106PagesAndCountsTheResumes()
    {
        byte[] content = File.ReadAllBytes(SharedData.Require(SharedData.CirrusSample));
        await using var server = new LoopbackHttpServer(content) { DropAfterBytes = content.Length / 10, DropRequests = 9 };
        var settings = new SourceSettings { Http = new HttpReadOptions { MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(10) } };

        IDocumentSource source = SourceFactory.Create(server.Url, settings);
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(106, docs.Count);
        Assert.True(source.Statistics.Resumes >= 8, $"{source.Statistics.Resumes} resumes");
    }

    [SkippableFact]
    public async Task WikipediaXml_SharedDump_ArticlesAsProse()
    {
        string path = SharedData.Require(XmlDump);
        IDocumentSource source = SourceFactory.Create(path);

        List<Document> docs = await Collect.DocumentsAsync(source);

        // 206 pages: 205 in namespace 0, of which 99 redirects; the 106 articles are the CirrusSearch sample's pages.
        Assert.Equal("wikixml", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Assert.Equal(106, docs.Count);
        Assert.Equal(99, source.Statistics.SkippedByReason["redirect"]);
        Assert.Equal(1, source.Statistics.SkippedByReason["namespace"]);
        foreach (Document doc in docs)
        {
            foreach (string markup in new[] { "{{", "}}", "[[", "]]", "'''", "<ref", "{|", "|}", "<!--", "&lt;", "&quot;", "[[File:", "Category:" })
            {
                Assert.False(doc.Text.Contains(markup, StringComparison.Ordinal), $"page {doc.Id} '{doc.Metadata!["title"]}' still holds '{markup}': …{Around(doc.Text, markup)}…");
            }
        }
        Document a = docs.Single(d => d.Metadata!["title"] == "A");
        Assert.StartsWith("A (named", a.Text, StringComparison.Ordinal);
        Assert.Contains("is the first letter and the first vowel in the ISO basic Latin alphabet.", a.Text, StringComparison.Ordinal);
        Assert.Contains("\n\nHistory\n\n", a.Text, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task WikipediaXml_KeepRedirects_Reads205NamespaceZeroPages()
    {
        IDocumentSource source = SourceFactory.Create(SharedData.Require(XmlDump), new SourceSettings { FormatOptions = new Dictionary<string, string> { ["keep-redirects"] = "true", ["wikitext"] = "raw" } });

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(205, docs.Count);
    }

    [SkippableFact]
    public async Task Csv_MadeWithMl_764RowsWithQuotedNewlines()
    {
        IDocumentSource source = SourceFactory.Create(SharedData.Require(MadeWithMl), Columns("title,description", label: "tag"));

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(764, docs.Count);
        Assert.Equal(new[] { "computer-vision", "mlops", "natural-language-processing", "other" }, docs.Select(d => Assert.Single(d.Labels!)).Distinct().Order());
        Assert.Equal(310, docs.Count(d => d.Labels![0] == "natural-language-processing"));
        Document second = docs[1];
        Assert.Equal("7", second.Id);
        Assert.StartsWith("Show, Infer & Tell: Contextual Inference for Creative Captioning The beauty of the work", second.Text, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Tsv_GoEmotionsHeaderless_43410RowsWithLabelLists()
    {
        IDocumentSource source = SourceFactory.Create(SharedData.Require(GoEmotions), Columns("text", label: "labels", new Dictionary<string, string> { ["columns"] = "text,labels,id" }));

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(43_410, docs.Count);
        Assert.Equal("eebbqej", docs[0].Id);
        Assert.Equal(new[] { "27" }, docs[0].Labels);
        Assert.Contains(docs, d => d.Labels!.Count > 1);
    }

    [SkippableFact]
    public void Csv_MissingColumn_ErrorListsTheColumnsThatExist()
    {
        string path = SharedData.Require(MadeWithMl);
        SourceFormatException error = Assert.Throws<SourceFormatException>(() => Collect.DocumentsAsync(SourceFactory.Create(path, Columns("body"))).GetAwaiter().GetResult());

        Assert.Contains("no text column 'body'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'id', 'created_on', 'title', 'description', 'tag'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_UnterminatedQuote_SkippedAndCountedOrFailsNamingTheLine()
    {
        using var files = new TempFiles();
        string path = files.WriteText("t.csv", "id,text\n1,fine\n2,\"also fine, with a comma\"\n3,\"never closed\n4,swallowed\n");

        IDocumentSource skip = SourceFactory.Create(path);
        List<Document> docs = await Collect.DocumentsAsync(skip);
        Assert.Equal(new[] { "1", "2" }, docs.Select(d => d.Id));
        Assert.Equal(1, skip.Statistics.SkippedByReason["unterminated_quote"]);
        Assert.Contains("line 4", Assert.Single(skip.Statistics.Examples["unterminated_quote"]), StringComparison.Ordinal);

        IDocumentSource fail = SourceFactory.Create(path, new SourceSettings { Lines = new LineReaderOptions { OnBadRecord = BadRecordPolicy.Fail } });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(fail));
        Assert.Contains("line 4", error.Message, StringComparison.Ordinal);
        Assert.Contains("t.csv", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_CarriageReturnInsideQuotes_IsData_CrlfLineEndsAreNot()
    {
        using var files = new TempFiles();
        string path = files.WriteText("t.csv", "id,text\r\n1,\"ends in CR\r\"\r\n2,plain\r\n3,\"last\"");

        List<Document> docs = await Collect.DocumentsAsync(SourceFactory.Create(path));

        Assert.Equal(["ends in CR\r", "plain", "last"], docs.Select(d => d.Text));
    }

    [Fact]
    public void Wikitext_DeeplyNestedBrokenLinks_CleanedWithoutRecursingWithoutEnd()
    {
        string page = string.Concat(Enumerable.Repeat("[[a|", 50_000)) + "end";

        string prose = StreamLoader.Provider.Wikipedia.WikitextCleaner.Clean(page);

        Assert.EndsWith("end", prose, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_InvalidUtf8Field_SkippedAndCounted()
    {
        using var files = new TempFiles();
        byte[] bad = [.. "id,text\n1,good\n2,bad "u8, 0xC3, 0x28, .. "\n3,good again\n"u8];
        IDocumentSource source = SourceFactory.Create(files.WriteBytes("t.csv", bad));

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(new[] { "1", "3" }, docs.Select(d => d.Id));
        Assert.Equal(1, source.Statistics.SkippedByReason["invalid_utf8"]);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("bzip2")]
    [InlineData("zstd")]
    public async Task Truncated_CompressedInput_FailsNamingTheCompressionAndOffset(string compression)
    {
        using var files = new TempFiles();
        string text = string.Concat(Enumerable.Range(0, 2000).Select(i => $"{{\"id\":\"{i}\",\"text\":\"document number {i} {Guid.NewGuid()}\"}}\n"));
        byte[] whole = compression switch
        {
            "gzip" => TempFiles.Gzip(text),
            "bzip2" => Compress.Bzip2(text),
            _ => Compress.Zstd(text),
        };
        string path = files.WriteBytes("cut.bin", whole[..(whole.Length * 2 / 3)]);

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(SourceFactory.Create(path)));

        Assert.Contains($"the {compression} data is truncated or corrupt", error.Message, StringComparison.Ordinal);
        Assert.Contains("byte offset", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bzip2_Multistream_ReadsEveryStream()
    {
        using var files = new TempFiles();
        byte[] joined = [.. Compress.Bzip2("{\"text\":\"one\"}\n"), .. Compress.Bzip2("{\"text\":\"two\"}\n"), .. Compress.Bzip2("{\"text\":\"three\"}\n")];

        List<Document> docs = await Collect.DocumentsAsync(SourceFactory.Create(files.WriteBytes("multi.jsonl.bz2", joined)));

        Assert.Equal(new[] { "one", "two", "three" }, docs.Select(d => d.Text));
    }

    [Fact]
    public void Detect_EmptyFile_SaysSoAndNamesTheFormats()
    {
        using var files = new TempFiles();
        string path = files.WriteText("empty.dat", string.Empty);

        SourceFormatException error = Assert.Throws<SourceFormatException>(() => SourceFactory.Create(path));

        Assert.Contains("it is empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("--source-format", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_GiantSingleDocument_IsReadWhole()
    {
        using var files = new TempFiles();
        string giant = new string('x', 50 << 20);
        string path = files.WriteText("giant.jsonl", $"{{\"id\":\"big\",\"text\":\"{giant}\"}}\n{{\"id\":\"small\",\"text\":\"y\"}}\n");

        List<Document> docs = await Collect.DocumentsAsync(SourceFactory.Create(path));

        Assert.Equal(new[] { 50 << 20, 1 }, docs.Select(d => d.Length));
    }

    [Fact]
    public async Task Arrow_WrongSchema_TextColumnNotAString_FailsClearly()
    {
        using var files = new TempFiles();
        var ids = new Apache.Arrow.Int64Array.Builder().Append(1).Build();
        var batch = new Apache.Arrow.RecordBatch(new Apache.Arrow.Schema.Builder().Field(f => f.Name("text").DataType(Apache.Arrow.Types.Int64Type.Default)).Build(), [ids], 1);
        using var output = new MemoryStream();
        using (var writer = new Apache.Arrow.Ipc.ArrowStreamWriter(output, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(SourceFactory.Create(files.WriteBytes("n.arrow", output.ToArray()))));

        Assert.Contains("column 'text' is int64, not a string column", error.Message, StringComparison.Ordinal);
    }

    private static string Around(string text, string what)
    {
        int at = text.IndexOf(what, StringComparison.Ordinal);
        return text.Substring(Math.Max(0, at - 60), Math.Min(text.Length - Math.Max(0, at - 60), 160));
    }
}
