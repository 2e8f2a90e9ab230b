using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// A Parquet file written by an independent implementation (arrow-rs through npm <c>parquet-wasm</c>, by
/// scripts/parquet_write.js): snappy pages, five row groups, a list column beside the flat ones.
/// </summary>
public sealed class ParquetInteropTests
{
    private const int Rows = 30;

    [SkippableFact]
    public async Task ReadAsync_WrittenByArrowRs_RowsAndColumnsMatch()
    {
        using var files = new TempFiles();
        string path = files.Path("train-00000-of-00001.parquet");
        NodeScripts.Run("parquet_write.js", path, Rows.ToString(System.Globalization.CultureInfo.InvariantCulture));

        IDocumentSource source = SourceFactory.Create(path, new SourceSettings { Columns = new SourceColumns { Label = "label", LabelRequired = true } });
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal("parquet", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"parquet row {i}: \"quoted\", ünïcödé"), docs.Select(d => d.Text));
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"p{i}"), docs.Select(d => d.Id));
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"{i % 4}"), docs.Select(d => Assert.Single(d.Labels!)));
    }

    [SkippableFact]
    public async Task ReadAsync_ListColumnAsTheLabel_FailsNamingTheColumn()
    {
        using var files = new TempFiles();
        string path = files.Path("t.parquet");
        NodeScripts.Run("parquet_write.js", path, "10");

        IDocumentSource source = SourceFactory.Create(path, new SourceSettings { Columns = new SourceColumns { Label = "tags", LabelRequired = true } });
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(source));

        Assert.Contains("column 'tags' is a list", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_NotParquetAfterAll_FailsNamingTheFile()
    {
        using var files = new TempFiles();
        string path = files.WriteBytes("broken.parquet", [.. "PAR1"u8, .. new byte[100]]);

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(SourceFactory.Create(path)));

        Assert.Contains("broken.parquet", error.Message, StringComparison.Ordinal);
        Assert.Contains("not a readable Parquet file", error.Message, StringComparison.Ordinal);
    }
}
