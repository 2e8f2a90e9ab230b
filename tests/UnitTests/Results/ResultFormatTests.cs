using System.Text.Json;
using StreamLoader.Core.Inference;
using StreamLoader.Results;
using StreamLoader.Results.Formats;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Results;

/// <summary>Every result format writes rows that it, and an independent reader, read back exactly.</summary>
public sealed class ResultFormatTests
{
    internal static ResultSchema Schema(bool multi) => new()
    {
        KeepColumns = ["title", "tag"],
        LabelNames = multi ? ["joy", "anger", "natural-language-processing"] : ["nlp", "cv", "mlops", "other"],
        MultiLabel = multi,
        ModelHash = "0123456789abcdef",
        TokenizerHash = "fedcba9876543210",
    };

    internal static List<ResultRow> Rows(ResultSchema schema, int count)
    {
        var rows = new List<ResultRow>();
        for (int i = 0; i < count; i++)
        {
            bool empty = i % 7 == 3;
            float[]? p = empty ? null : Enumerable.Range(0, schema.LabelNames.Count).Select(l => (float)((i + 1) * (l + 3) % 97) / 97f + 1e-7f * i).ToArray();
            rows.Add(new ResultRow
            {
                Id = $"doc-{i}",
                Kept = [i % 5 == 0 ? null : $"Title \"{i}\", ünï\ncode", $"tag{i % 3}"],
                Status = empty ? RowStatus.Empty : i % 11 == 0 ? RowStatus.Truncated : RowStatus.Ok,
                Label = schema.MultiLabel || empty ? null : schema.LabelNames[i % schema.LabelNames.Count],
                Labels = !schema.MultiLabel || empty ? null : schema.LabelNames.Where((_, l) => (i >> l & 1) == 1).ToArray(),
                Probabilities = p,
                Tokens = empty ? 0 : 10 + i,
                Source = i < count / 2 ? "a.csv" : "b.csv",
                Position = new SourcePosition(i < count / 2 ? 0 : 1, i < count / 2 ? i : i - (count / 2)),
                Line = i % 4 == 0 ? null : i + 2,
                Offset = i % 3 == 0 ? null : i * 100,
            });
        }
        return rows;
    }

    internal static string Describe(ResultRow r) =>
        $"{r.Id}|{string.Join("~", r.Kept.Select(k => k ?? "<null>"))}|{r.Status}|{r.Label ?? "<null>"}|{(r.Labels is null ? "<null>" : string.Join("+", r.Labels))}|" +
        $"{(r.Probabilities is null ? "<null>" : string.Join(",", r.Probabilities.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))}|{r.Tokens}|{r.Source}|{r.Position}|{r.Line}|{r.Offset}";

    public static TheoryData<string, bool> Cases() => new()
    {
        { "out.jsonl", false }, { "out.jsonl", true }, { "out.arrow", false }, { "out.arrow", true }, { "out.parquet", false }, { "out.parquet", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task WriteThenRead_RoundTripsEveryField(string name, bool multi)
    {
        using var files = new TempFiles();
        ResultSchema schema = Schema(multi);
        List<ResultRow> rows = Rows(schema, 45);
        IResultFormat format = ResultFormats.ForPath(name);
        string path = files.Path(name);
        await using (IResultFileWriter writer = format.Create(path, schema))
        {
            // Three batches (record batches, row groups), one of them empty.
            await writer.WriteAsync(rows[..20]);
            await writer.WriteAsync([]);
            await writer.WriteAsync(rows[20..]);
            await writer.CompleteAsync();
        }

        List<ResultRow> read = await Collect.AllAsync(format.ReadAsync(path, schema));

        Assert.Equal(rows.Select(Describe), read.Select(Describe));
    }

    /// <summary>
    /// Parquet.Net 6.1 decides nullness from a pooled definition-level buffer it never fills for a required column: a
    /// pool left dirty by earlier work (a negative int in it) made required columns (tokens, source_part,
    /// source_ordinal) read back as nulls, at random. The reader must not depend on what the pool holds.
    /// </summary>
    [Fact]
    public async Task Parquet_RequiredColumns_ReadBackWhateverThePoolHolds()
    {
        using var files = new TempFiles();
        ResultSchema schema = Schema(multi: false);
        List<ResultRow> rows = Rows(schema, 300);
        IResultFormat format = ResultFormats.ForPath("out.parquet");
        string path = files.Path("out.parquet");
        await using (IResultFileWriter writer = format.Create(path, schema))
        {
            await writer.WriteAsync(rows[..100]);
            await writer.WriteAsync(rows[100..]);
            await writer.CompleteAsync();
        }

        for (int attempt = 0; attempt < 3; attempt++)
        {
            PoisonedPool.Fill(-1);
            List<ResultRow> read = await Collect.AllAsync(format.ReadAsync(path, schema));
            Assert.Equal(rows.Select(Describe), read.Select(Describe));
        }
    }

    [SkippableTheory]
    [InlineData("out.arrow", false)]
    [InlineData("out.arrow", true)]
    [InlineData("out.parquet", false)]
    [InlineData("out.parquet", true)]
    public async Task Write_IsReadTheSameByAnIndependentReader(string name, bool multi)
    {
        using var files = new TempFiles();
        ResultSchema schema = Schema(multi);
        List<ResultRow> rows = Rows(schema, 30);
        string path = files.Path(name);
        await using (IResultFileWriter writer = ResultFormats.ForPath(name).Create(path, schema))
        {
            await writer.WriteAsync(rows[..13]);
            await writer.WriteAsync(rows[13..]);
            await writer.CompleteAsync();
        }

        string[] lines = NodeScripts.Output("results_read.js", path).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(rows.Count, lines.Length);
        for (int i = 0; i < rows.Count; i++)
        {
            using var json = JsonDocument.Parse(lines[i]);
            JsonElement row = json.RootElement;
            ResultRow expected = rows[i];
            Assert.Equal(expected.Id, row.GetProperty("id").GetString());
            Assert.Equal(expected.Kept[0], row.GetProperty("title").GetString());
            Assert.Equal(expected.Status, row.GetProperty("status").GetString());
            Assert.Equal(expected.Position.Ordinal, row.GetProperty("source_ordinal").GetInt64());
            Assert.Equal(expected.Line, row.GetProperty("source_line").ValueKind == JsonValueKind.Null ? null : row.GetProperty("source_line").GetInt64());
            if (multi)
            {
                JsonElement labels = row.GetProperty("labels");
                Assert.Equal(expected.Labels is null ? "<null>" : string.Join("+", expected.Labels), labels.ValueKind == JsonValueKind.Null ? "<null>" : string.Join("+", labels.EnumerateArray().Select(l => l.GetString())));
            }
            else
            {
                Assert.Equal(expected.Label, row.GetProperty("label").GetString());
            }
            JsonElement probabilities = row.GetProperty("probabilities");
            if (expected.Probabilities is null)
            {
                // A null struct (Arrow), or a struct of nulls (Parquet written by field).
                Assert.True(probabilities.ValueKind == JsonValueKind.Null || probabilities.EnumerateObject().All(p => p.Value.ValueKind == JsonValueKind.Null), probabilities.ToString());
                continue;
            }
            for (int l = 0; l < schema.LabelNames.Count; l++)
            {
                Assert.Equal(expected.Probabilities[l], probabilities.GetProperty(schema.LabelNames[l]).GetSingle());
            }
        }
    }

    [Theory]
    [InlineData("x.csv")]
    [InlineData("x")]
    public void ForPath_UnknownExtension_NamesTheOnesThereAre(string name)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => ResultFormats.ForPath(name));
        Assert.Contains(".jsonl", error.Message, StringComparison.Ordinal);
        Assert.Contains(".parquet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_KeptColumnWithAnOwnName_IsRefused()
    {
        ResultSchema schema = Schema(false) with { KeepColumns = ["label"] };
        ArgumentException error = Assert.Throws<ArgumentException>(schema.Validate);
        Assert.Contains("'label'", error.Message, StringComparison.Ordinal);
    }
}
