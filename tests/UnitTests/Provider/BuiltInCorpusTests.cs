using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.BuiltIn;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

public sealed class BuiltInCorpusTests
{
    [Fact]
    public async Task Discover_FindsRealEnglishProseOffline()
    {
        XmlDocumentationCorpus corpus = XmlDocumentationCorpus.Discover();
        List<Document> docs = await Collect.AllAsync(TakeAsync(corpus.ReadAsync(), 2000));

        Assert.NotEmpty(corpus.Files);
        Assert.True(docs.Count >= 500, $"expected at least 500 documents, got {docs.Count}");
        string all = string.Join("\n", docs.Select(d => d.Text));
        // Plain English words, not XML.
        Assert.Contains(" the ", all, StringComparison.Ordinal);
        Assert.Contains("Initializes a new instance", all, StringComparison.Ordinal);
        Assert.DoesNotContain("<summary>", all, StringComparison.Ordinal);
        Assert.DoesNotContain("cref=", all, StringComparison.Ordinal);
        Assert.All(docs, d => Assert.False(string.IsNullOrWhiteSpace(d.Text)));
    }

    [Fact]
    public async Task ReadAsync_IsDeterministic()
    {
        XmlDocumentationCorpus corpus = XmlDocumentationCorpus.Discover();
        List<Document> a = await Collect.AllAsync(TakeAsync(corpus.ReadAsync(), 300));
        List<Document> b = await Collect.AllAsync(TakeAsync(XmlDocumentationCorpus.Discover().ReadAsync(), 300));

        Assert.Equal(a.Select(d => d.Id), b.Select(d => d.Id));
        Assert.Equal(a.Select(d => d.Text), b.Select(d => d.Text));
    }

    [Fact]
    public async Task ReadAsync_CrossReferencesBecomeShortNames()
    {
        using var files = new TempFiles();
        string xml = files.WriteText("Sample.xml", """
            <?xml version="1.0"?>
            <doc><members>
              <member name="T:Sample.Widget"><summary>Represents a <see cref="T:Sample.Widget"/> that holds a <see cref="T:System.String"/>.</summary></member>
              <member name="M:Sample.Widget.Spin(System.Int32)"><summary>Spins it <paramref name="times"/> times; returns <see langword="true"/>.</summary><remarks><code>widget.Spin(3);</code>Use sparingly.</remarks></member>
              <member name="T:Sample.Gadget"><summary>A gadget.</summary></member>
            </members></doc>
            """);
        var corpus = new XmlDocumentationCorpus([xml]);

        List<Document> docs = await Collect.DocumentsAsync(corpus);

        Assert.Equal(["Sample:Sample.Widget", "Sample:Sample.Gadget"], docs.Select(d => d.Id));
        Assert.Equal("Represents a Widget that holds a String.\nSpins it times times; returns true. Use sparingly.", docs[0].Text);
        Assert.Equal("A gadget.", docs[1].Text);
    }

    [Fact]
    public void SourceFactory_Builtin_IsTheBuiltInCorpus()
    {
        Assert.Equal("builtin", SourceFactory.Catalog.Detect("builtin", new()).Format.Name);
        Assert.IsType<XmlDocumentationCorpus>(SourceFactory.Create("builtin"));
    }

    private static async IAsyncEnumerable<T> TakeAsync<T>(IAsyncEnumerable<T> source, int count)
    {
        int n = 0;
        await foreach (T item in source)
        {
            yield return item;
            if (++n == count)
            {
                yield break;
            }
        }
    }
}
