using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;
using StreamLoader.Results;
using StreamLoader.Results.Formats;
using StreamLoader.Results.Journal;
using StreamLoader.Results.Ordering;
using StreamLoader.Results.Parts;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Results;

/// <summary>The work folder's journal, the ledger that restores input order, the writer and the merge of rank parts.</summary>
public sealed class ResultJournalTests
{
    private static readonly ResultSchema s_schema = ResultFormatTests.Schema(multi: false);

    private static async Task Commit(ChunkJournal journal, int from, int to)
    {
        List<ResultRow> rows = ResultFormatTests.Rows(s_schema, 60)[from..to];
        await journal.CommitAsync(rows, to - from, to, $"{{\"at\":{to}}}", CancellationToken.None);
    }

    [Theory]
    [InlineData("out.jsonl")]
    [InlineData("out.parquet")]
    public async Task Journal_CrashLeftovers_AreDiscardedAndCommittedChunksKept(string name)
    {
        using var files = new TempFiles();
        OutputLayout layout = OutputLayout.For(files.Path(name), 0, 1);
        ChunkJournal first = ChunkJournal.Open(layout, s_schema, "s");
        await Commit(first, 0, 20);
        await Commit(first, 20, 35);
        // What a kill leaves: a chunk written but not committed, a half-written one, and a journal line cut off.
        File.WriteAllText(Path.Combine(layout.WorkFolder, "chunk-000002" + layout.Format.Extensions[0]), "not committed");
        File.WriteAllText(Path.Combine(layout.WorkFolder, "chunk-000003.jsonl.tmp"), "half");
        File.AppendAllText(Path.Combine(layout.WorkFolder, "journal.jsonl"), "{\"chunk\":\"chunk-000002");

        ChunkJournal second = ChunkJournal.Open(layout, s_schema, "s");

        Assert.Equal(2, second.Commits.Count);
        Assert.Equal(35, second.CommittedRows);
        Assert.Equal(35, second.NextOrdinal);
        Assert.Equal("{\"at\":35}", second.ResumePosition);
        Assert.Equal(2, second.DiscardedFiles);
        await Commit(second, 35, 60);
        CompletionMarker marker = await second.FinishAsync("s", CancellationToken.None);

        List<ResultRow> rows = await Collect.AllAsync(layout.Format.ReadAsync(layout.Final, s_schema));
        Assert.Equal(ResultFormatTests.Rows(s_schema, 60).Select(ResultFormatTests.Describe), rows.Select(ResultFormatTests.Describe));
        Assert.Equal(60, marker.Rows);
        Assert.Equal(CompletionMarker.Hash(layout.Final).Sha256, CompletionMarker.Load(layout.Final)!.Sha256);
        Assert.False(Directory.Exists(layout.WorkFolder));
    }

    [Fact]
    public async Task Journal_ChunkChangedAfterCommit_IsAnErrorNamingIt()
    {
        using var files = new TempFiles();
        OutputLayout layout = OutputLayout.For(files.Path("out.jsonl"), 0, 1);
        ChunkJournal journal = ChunkJournal.Open(layout, s_schema, "s");
        await Commit(journal, 0, 10);
        File.AppendAllText(Path.Combine(layout.WorkFolder, "chunk-000000.jsonl"), "{}\n");

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => ChunkJournal.Open(layout, s_schema, "s"));
        Assert.Contains("chunk-000000.jsonl", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Journal_OtherSettings_AreRefused()
    {
        using var files = new TempFiles();
        OutputLayout layout = OutputLayout.For(files.Path("out.jsonl"), 0, 1);
        await Commit(ChunkJournal.Open(layout, s_schema, "filter=nlp"), 0, 10);

        SettingsConflictException error = Assert.Throws<SettingsConflictException>(() => ChunkJournal.Open(layout, s_schema, "filter=cv"));
        Assert.Contains("filter=nlp", error.Message, StringComparison.Ordinal);
    }

    private static Document Doc(long streamOrdinal, int part, long ordinal) =>
        new($"d{part}-{ordinal}", "text") { Ordinal = streamOrdinal, SourcePart = part, SourceOrdinal = ordinal, SourceLine = ordinal + 2, Metadata = new Dictionary<string, string> { ["tag"] = $"t{ordinal}" } };

    private static PredictionBatch Predict(IEnumerable<(int Part, long Ordinal)> rows, long watermark, params SkippedDocument[] skipped)
    {
        var list = rows.ToList();
        var batch = new PredictionBatch(list.Count, s_schema.LabelNames.Count) { Watermark = watermark, Skipped = skipped };
        for (int i = 0; i < list.Count; i++)
        {
            batch.Positions[i] = new SourcePosition(list[i].Part, list[i].Ordinal);
            batch.TokenCounts[i] = 5 + (int)list[i].Ordinal;
            batch.Probabilities[(i * batch.Outputs) + (int)(list[i].Ordinal % batch.Outputs)] = 1;
        }
        return batch;
    }

    [Fact]
    public void Ledger_SortedPredictions_LeaveInInputOrderOnlyBelowTheWatermark()
    {
        var documents = new DocumentRecordLog(["tag"]);
        var ledger = new ResultLedger(documents, s_schema with { KeepColumns = ["tag"] }, "in.csv", maxTokens: 9, threshold: 0.5);
        for (int i = 0; i < 8; i++)
        {
            documents.Append(Doc(i, 0, i));
        }
        var rows = new List<ResultRow>();
        // A window of 0..5 sorted longest first, in two batches; document 2 had no tokens.
        ledger.Accept(Predict([(0, 5), (0, 4), (0, 3)], watermark: 0), rows);
        Assert.Empty(rows);
        ledger.Accept(Predict([(0, 1), (0, 0)], watermark: 6, new SkippedDocument(new SourcePosition(0, 2), RowStatus.Empty)), rows);

        Assert.Equal(["d0-0", "d0-1", "d0-2", "d0-3", "d0-4", "d0-5"], rows.Select(r => r.Id));
        Assert.Equal([RowStatus.Ok, RowStatus.Ok, RowStatus.Empty, RowStatus.Ok, RowStatus.Ok, RowStatus.Truncated], rows.Select(r => r.Status));
        Assert.Equal(["nlp", "cv", null, "other", "nlp", "cv"], rows.Select(r => r.Label));
        Assert.Equal("t3", rows[3].Kept[0]);
        Assert.Equal(5, rows[3].Line);
        Assert.Equal("in.csv", rows[0].Source);
        Assert.Equal(2, ledger.Pending);
        Assert.Throws<InvalidOperationException>(ledger.CheckDrained);
    }

    [Fact]
    public void Ledger_DocumentPassingTheWatermarkUnpredicted_IsAnErrorNotAMissingRow()
    {
        var documents = new DocumentRecordLog(s_schema.KeepColumns);
        var ledger = new ResultLedger(documents, s_schema, "in.csv", maxTokens: 10, threshold: 0.5);
        documents.Append(Doc(0, 0, 0));
        documents.Append(Doc(1, 0, 1));

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => ledger.Accept(Predict([(0, 1)], watermark: 2), []));
        Assert.Contains("d0-0", error.Message, StringComparison.Ordinal);
    }

    private static async IAsyncEnumerable<PredictionBatch> Windows(int from, int to, int window)
    {
        for (int start = from; start < to; start += window)
        {
            int end = Math.Min(to, start + window);
            await Task.Yield();
            yield return Predict(Enumerable.Range(start, end - start).Reverse().Select(i => (0, (long)i)), watermark: end);
        }
    }

    [Fact]
    public async Task Writer_FilterBy_KeepsExactlyTheRowsWithThoseLabels_AndCommitsAtWatermarks()
    {
        using var files = new TempFiles();
        OutputLayout layout = OutputLayout.For(files.Path("out.jsonl"), 0, 1);
        var documents = new DocumentRecordLog(s_schema.KeepColumns);
        var ledger = new ResultLedger(documents, s_schema, "in.csv", maxTokens: 100, threshold: 0.5);
        for (int i = 0; i < 50; i++)
        {
            documents.Append(Doc(i, 0, i));
        }
        var writer = new ResultWriter(ledger, ChunkJournal.Open(layout, s_schema, "s"), s_schema, new ResultWriterOptions { FilterBy = new HashSet<string> { "cv", "other" }, ChunkDocuments = 16 }, at => $"{at}");

        await writer.RunAsync(Windows(0, 50, 8), "s", CancellationToken.None);

        List<ResultRow> rows = await Collect.AllAsync(layout.Format.ReadAsync(layout.Final, s_schema));
        Assert.Equal(Enumerable.Range(0, 50).Where(i => i % 4 is 1 or 3).Select(i => $"d0-{i}"), rows.Select(r => r.Id));
        Assert.Equal(50, writer.Documents);
        Assert.Equal(50 - rows.Count, writer.FilteredOut);
        Assert.Equal(4, writer.Chunks); // 16, 16, 16 documents at watermarks 16, 32, 48, then the last 2
        Assert.Equal(13, writer.LabelCounts["nlp"]);
    }

    [Fact]
    public async Task Merge_PartsOfSeveralRanks_RestoreTheSingleProcessOrder()
    {
        using var files = new TempFiles();
        string output = files.Path("preds.parquet");
        List<ResultRow> all = ResultFormatTests.Rows(s_schema, 60);
        // Three ranks dealt blocks of 4 documents, as the provider deals them.
        for (int rank = 0; rank < 3; rank++)
        {
            OutputLayout layout = OutputLayout.For(output, rank, 3);
            ChunkJournal journal = ChunkJournal.Open(layout, s_schema, "s");
            List<ResultRow> mine = all.Where((_, i) => i / 4 % 3 == rank).ToList();
            await journal.CommitAsync(mine[..(mine.Count / 2)], mine.Count / 2, 1, null, CancellationToken.None);
            await journal.CommitAsync(mine[(mine.Count / 2)..], mine.Count - (mine.Count / 2), 2, null, CancellationToken.None);
            await journal.FinishAsync("s", CancellationToken.None);
        }

        MergeResult merged = await PartMerger.MergeAsync(output, null, CancellationToken.None);

        Assert.Equal(3, merged.Parts);
        List<ResultRow> rows = await Collect.AllAsync(ResultFormats.ForPath(output).ReadAsync(output, s_schema));
        Assert.Equal(all.Select(ResultFormatTests.Describe), rows.Select(ResultFormatTests.Describe));
        Assert.NotNull(CompletionMarker.Load(output));
    }

    [Fact]
    public async Task Merge_UnfinishedPart_IsAnErrorNamingTheRank()
    {
        using var files = new TempFiles();
        string output = files.Path("preds.jsonl");
        for (int rank = 0; rank < 2; rank++)
        {
            ChunkJournal journal = ChunkJournal.Open(OutputLayout.For(output, rank, 2), s_schema, "s");
            if (rank == 0)
            {
                await journal.FinishAsync("s", CancellationToken.None);
            }
        }

        InvalidDataException error = await Assert.ThrowsAsync<InvalidDataException>(() => PartMerger.MergeAsync(output, null, CancellationToken.None));
        Assert.Contains("rank 1", error.Message, StringComparison.Ordinal);
    }
}
