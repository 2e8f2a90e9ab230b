using StreamLoader.Core.Documents;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Csv;
using StreamLoader.Provider.Input;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>Rows that do not fit their columns: counted skips with their line and offset, never silently cut.</summary>
public sealed class CsvDocumentReaderTests
{
    [Theory]
    [InlineData(",", "id,text\n1,hello there\n2,extra,fields,here\n3,general kenobi\n", null)]
    [InlineData("\t", "1\thello there\n2\textra\tfields\there\n3\tgeneral kenobi\n", "id,text")]
    public async Task ReadAsync_RowWithMoreFieldsThanTheColumns_IsACountedSkipWithItsLineAndOffset(string delimiter, string content, string? columns)
    {
        using var files = new TempFiles();
        string path = files.WriteText(delimiter == "," ? "table.csv" : "table.tsv", content);
        var reader = new CsvDocumentReader(path, Options(delimiter, columns));

        List<Document> documents = await Collect.DocumentsAsync(reader);

        Assert.Equal(["hello there", "general kenobi"], documents.Select(d => d.Text));
        Assert.Equal(1, reader.Statistics.Skipped);
        Assert.Equal(1, reader.Statistics.SkippedByReason["extra_fields"]);
        // The row of four fields: its line (the header is line 1 where there is one) and the byte it starts at.
        int line = columns is null ? 3 : 2;
        int offset = content.IndexOf("\n2" + delimiter, StringComparison.Ordinal) + 1;
        string example = Assert.Single(reader.Statistics.Examples["extra_fields"]);
        Assert.Contains($"line {line} (byte offset {offset})", example, StringComparison.Ordinal);
        Assert.Contains("the row has 4 fields", example, StringComparison.Ordinal);
    }

    /// <summary>A separator at the end of every data row (some exporters write one) leaves only empty fields past the columns: no skip.</summary>
    [Fact]
    public async Task ReadAsync_TrailingSeparatorOnEveryRow_IsNotAnExtraField()
    {
        using var files = new TempFiles();
        string path = files.WriteText("table.csv", "id,text\n1,hello there,\n2,general kenobi,,\n");
        var reader = new CsvDocumentReader(path, Options(",", null));

        List<Document> documents = await Collect.DocumentsAsync(reader);

        Assert.Equal(["hello there", "general kenobi"], documents.Select(d => d.Text));
        Assert.Equal(0, reader.Statistics.Skipped);
    }

    [Fact]
    public async Task ReadAsync_RowWithMoreFieldsThanTheHeader_FailsTheReadWhenBadRecordsFail()
    {
        using var files = new TempFiles();
        string path = files.WriteText("table.csv", "id,text\n1,hello there\n2,extra,fields,here\n");
        var reader = new CsvDocumentReader(path, Options(",", null) with { Lines = new LineReaderOptions { OnBadRecord = BadRecordPolicy.Fail } });

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(reader));

        Assert.Contains("table.csv", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("extra_fields", error.Message, StringComparison.Ordinal);
    }

    private static CsvOptions Options(string delimiter, string? columns) => new()
    {
        Delimiter = delimiter[0],
        Quoted = delimiter == ",",
        ColumnNames = columns?.Split(','),
        Columns = new SourceColumns { Text = ["text"], Id = "id" },
    };
}
