using System.Text;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// What every source format promises, run against each: detection from the content, every record once in order,
/// a bad record skipped and counted with its position, exact resume through a shuffled stream, and sharding whose
/// ranks together cover the source exactly once. A new format inherits this class and writes its files.
/// </summary>
public abstract class SourceContractTests
{
    protected const int Count = 60;

    /// <summary>The format name detection must find.</summary>
    protected abstract string FormatName { get; }

    /// <summary>Writes a source of <see cref="Count"/> documents with ids "d0".."d59" and text "text of dN"; returns what --source takes.</summary>
    protected abstract string Write(TempFiles files, bool withBadRecord);

    /// <summary>Whether the format can hold a record that is skipped as bad (a malformed line, a short row).</summary>
    protected virtual bool HasBadRecords => true;

    /// <summary>Settings the format needs (columns).</summary>
    protected virtual SourceSettings Settings => new();

    /// <summary>The stream's options every test starts from: parts read one at a time, unless a suite interleaves them.</summary>
    protected virtual DocumentStreamOptions Stream => new();

    /// <summary>True when the stream takes parts in turns (<see cref="DocumentStreamOptions.Interleave"/>), so a part's documents are not contiguous.</summary>
    private bool Interleaved => Stream.Interleave > 1;

    /// <summary>The text of record <paramref name="i"/>: "text of dN", or only a space at <see cref="EmptyAt"/>.</summary>
    protected string Text(int i) => i == EmptyAt ? " " : $"text of d{i}";

    /// <summary>The record whose text <see cref="Write"/> leaves empty (a space), or -1 for none.</summary>
    protected int EmptyAt { get; private set; } = -1;

    /// <summary>A column (or field) every record has, and its value in record i: what <c>--keep-columns</c> copies; null for a format without columns.</summary>
    protected virtual (string Column, Func<int, string> Value)? Kept => ("id", i => $"d{i}");

    [Fact]
    public async Task ReadAsync_EmptyText_SkippedAndCountedUnlessKept()
    {
        using var files = new TempFiles();
        EmptyAt = 7;
        string location = Write(files, withBadRecord: false);
        IDocumentSource skipping = Open(location);
        List<Document> skipped = await Collect.DocumentsAsync(skipping);
        IDocumentSource keeping = SourceFactory.Create(location, Settings with { Lines = Settings.Lines with { KeepEmptyText = true } });
        List<Document> kept = await Collect.DocumentsAsync(keeping);

        Assert.Equal(Count - 1, skipped.Count);
        Assert.Equal(1, skipping.Statistics.SkippedByReason["empty_text"]);
        Assert.Equal(Count, kept.Count);
        Assert.True(string.IsNullOrWhiteSpace(kept[7].Text), $"record 7 reads '{kept[7].Text}'");
        Assert.Equal(skipped.Select(d => d.Id), kept.Where((_, i) => i != 7).Select(d => d.Id));
        Assert.Equal(0, keeping.Statistics.Skipped);
    }

    [SkippableFact]
    public async Task ReadAsync_KeepColumns_CopiesThemIntoMetadata()
    {
        using var files = new TempFiles();
        Skip.If(Kept is null, $"{FormatName} has no columns to keep.");
        (string column, Func<int, string> value) = Kept!.Value;
        string location = Write(files, withBadRecord: false);
        List<Document> docs = await Collect.DocumentsAsync(SourceFactory.Create(location, Settings with { Columns = Settings.Columns with { Keep = [column] } }));

        Assert.Equal(Enumerable.Range(0, Count).Select(value), docs.Select(d => d.Metadata?.GetValueOrDefault(column)));
    }

    private IDocumentSource Open(string location) => SourceFactory.Create(location, Settings);

    [Fact]
    public void Detect_FromContent_FindsTheFormat()
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        string file = SourceFactory.Catalog.Expand([location], Settings)[0];
        Assert.Equal(FormatName, SourceFactory.Catalog.Detect(file, Settings).Format.Name);
    }

    [Fact]
    public async Task ReadAsync_EveryRecord_OnceInOrder()
    {
        using var files = new TempFiles();
        IDocumentSource source = Open(Write(files, withBadRecord: false));

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(Enumerable.Range(0, Count).Select(Text), docs.Select(d => d.Text));
        Assert.Equal(docs.Count, docs.Select(d => d.Id).Distinct().Count());
        Assert.Equal(Count, source.Statistics.DocumentsYielded);
        Assert.Equal(0, source.Statistics.Skipped);
    }

    [SkippableFact]
    public async Task ReadAsync_BadRecord_SkippedAndCountedWithPosition()
    {
        Skip.IfNot(HasBadRecords, $"{FormatName} cannot hold a record that is bad on its own.");
        using var files = new TempFiles();
        IDocumentSource source = Open(Write(files, withBadRecord: true));

        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(Enumerable.Range(0, Count).Select(Text), docs.Select(d => d.Text));
        Assert.Equal(1, source.Statistics.Skipped);
        string example = Assert.Single(source.Statistics.Examples.Values.SelectMany(e => e));
        Assert.Matches("line \\d+|offset \\d+|row \\d+", example);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(45)]
    public async Task ReadAsync_StopAndResume_ConcatenationEqualsTheUninterruptedStream(int stopAfter)
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        var options = Stream with { Seed = 7, ShuffleBuffer = 16, Epochs = 2 };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(Open(location), options));

        var first = new DocumentStream(Open(location), options);
        List<string> head = await Collect.TextsAsync(first, take: stopAfter);
        ProviderPosition position = first.Positions.PositionAt(stopAfter);
        List<string> tail = await Collect.TextsAsync(new DocumentStream(Open(location), options), position);

        Assert.Equal(2 * Count, whole.Count);
        Assert.Equal(whole, head.Concat(tail));
    }

    /// <summary>
    /// A position is a function of the settings and the document it stands at, not of how far reading had run ahead
    /// when it was asked for (frames stamped with it must be byte-identical from run to run): each position taken in
    /// lockstep with the reading equals the one taken after the whole pass was read, and a resume from each gives the
    /// rest of the stream.
    /// </summary>
    [Theory]
    [InlineData(8, 0, 1)]
    [InlineData(8, 1, 2)]
    [InlineData(0, 0, 1)]
    public async Task PositionAt_SameWhateverHowFarReadingRanAhead_AndEachResumes(int buffer, int rank, int worldSize)
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        var options = Stream with { Rank = new RankInfo(rank, worldSize), Seed = 5, ShuffleBuffer = buffer };
        var stream = new DocumentStream(Open(location), options);
        var texts = new List<string>();
        var lockstep = new List<string>();
        await foreach (Document document in stream.ReadAsync())
        {
            texts.Add(document.Text);
            lockstep.Add(stream.Positions.PositionAt(texts.Count).ToJson());
        }
        List<string> late = Enumerable.Range(1, texts.Count).Select(k => stream.Positions.PositionAt(k).ToJson()).ToList();

        Assert.Equal(lockstep, late);
        for (int k = 1; k < texts.Count; k++)
        {
            List<string> tail = await Collect.TextsAsync(new DocumentStream(Open(location), options), ProviderPosition.FromJson(late[k - 1], "test"));
            Assert.Equal(texts.Skip(k), tail);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task ReadAsync_Ranks_CoverTheSourceExactlyOnce(int worldSize)
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        var all = new List<string>();
        for (int rank = 0; rank < worldSize; rank++)
        {
            var stream = new DocumentStream(Open(location), Stream with { Rank = new RankInfo(rank, worldSize), Seed = 3, ShuffleBuffer = 8 });
            all.AddRange(await Collect.TextsAsync(stream));
        }
        Assert.Equal(Enumerable.Range(0, Count).Select(Text).Order(), all.Order());
    }

    [Fact]
    public async Task ReadAsync_Provenance_PartAndOrdinalFollowTheSourceOrder()
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        List<Document> docs = await Collect.AllAsync(new DocumentStream(Open(location), Stream).ReadAsync());

        Assert.All(docs, d => Assert.True(d.SourceOrdinal >= 0, $"{d.Id} has no source ordinal"));
        if (Interleaved)
        {
            // Parts taken in turns: in source order once sorted by (part, ordinal), each part's ordinals from 0 without a gap.
            docs = [.. docs.OrderBy(d => d.SourcePart).ThenBy(d => d.SourceOrdinal)];
        }
        Assert.Equal(Enumerable.Range(0, Count).Select(Text), docs.Select(d => d.Text));
        // Strictly increasing by (part, ordinal), each part's ordinals counting from 0 without a gap.
        for (int i = 1; i < docs.Count; i++)
        {
            (Document before, Document after) = (docs[i - 1], docs[i]);
            Assert.True(after.SourcePart == before.SourcePart ? after.SourceOrdinal == before.SourceOrdinal + 1 : after.SourcePart > before.SourcePart && after.SourceOrdinal == 0, $"{before.SourcePart}:{before.SourceOrdinal} then {after.SourcePart}:{after.SourceOrdinal}");
        }
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(3, 7)]
    [InlineData(4, 16)]
    [InlineData(3, 100)]
    public async Task ReadAsync_RanksInBlocks_DealWholeBlocksAndCoverTheSourceOnce(int worldSize, int block)
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: false);
        List<Document> single = await Collect.AllAsync(new DocumentStream(Open(location), Stream).ReadAsync());
        var all = new List<(int Part, long Ordinal, string Text)>();
        for (int rank = 0; rank < worldSize; rank++)
        {
            var stream = new DocumentStream(Open(location), Stream with { Rank = new RankInfo(rank, worldSize), ShardBlock = block });
            List<Document> docs = await Collect.AllAsync(stream.ReadAsync());
            if (!stream.ShardsByFile && !Interleaved)
            {
                // Blocks of `block` documents of one part, dealt in turn: the rank's documents are whole blocks.
                var blocks = docs.GroupBy(d => (d.SourcePart, d.SourceOrdinal / block)).ToList();
                Assert.All(blocks, g => Assert.Equal(single.Count(d => d.SourcePart == g.Key.SourcePart && d.SourceOrdinal / block == g.Key.Item2), g.Count()));
            }
            all.AddRange(docs.Select(d => (d.SourcePart, d.SourceOrdinal, d.Text)));
        }
        Assert.Equal(single.Select(d => (d.SourcePart, d.SourceOrdinal, d.Text)).Order(), all.Order());
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(5, 16)]
    public async Task ParallelDecode_SameStreamSkipsAndPositionsAsTheSerialDecode(int seed, int buffer)
    {
        using var files = new TempFiles();
        string location = Write(files, withBadRecord: HasBadRecords);
        var options = Stream with { Seed = seed, ShuffleBuffer = buffer, Epochs = 2 };

        ParallelRead serial = await ParallelRead.RunAsync(location, Settings, options, decodeThreads: 1, partsAtOnce: 1);
        ParallelRead parallel = await ParallelRead.RunAsync(location, Settings, options, decodeThreads: 4, partsAtOnce: 3);

        Assert.Equal(2 * Count, serial.Documents.Count);
        Assert.Equal(serial.Documents, parallel.Documents);
        Assert.Equal(serial.Positions, parallel.Positions);
        Assert.Equal(serial.Skips, parallel.Skips);
    }

    protected static string Lines(Func<int, string> line, bool withBadRecord, string bad) =>
        string.Concat(Enumerable.Range(0, Count).Select(i => (withBadRecord && i == Count / 2 ? bad + "\n" : string.Empty) + line(i) + "\n"));
}

public sealed class JsonlSourceContractTests : SourceContractTests
{
    protected override string FormatName => "jsonl";

    protected override string Write(TempFiles files, bool withBadRecord) =>
        files.WriteText("data.jsonl", Lines(i => $"{{\"id\":\"d{i}\",\"text\":\"{Text(i)}\"}}", withBadRecord, "{\"id\": broken"));
}

public sealed class ZstdJsonlSourceContractTests : SourceContractTests
{
    protected override string FormatName => "jsonl";

    protected override string Write(TempFiles files, bool withBadRecord)
    {
        // Two frames, as zstd -c a b > x.zst writes, under a name that says nothing about the format.
        string text = Lines(i => $"{{\"id\":\"d{i}\",\"text\":\"{Text(i)}\"}}", withBadRecord, "{\"id\": broken");
        int half = text.IndexOf('\n', text.Length / 2) + 1;
        return files.WriteBytes("corpus.zst", [.. Compress.Zstd(text[..half]), .. Compress.Zstd(text[half..])]);
    }
}

public sealed class CirrusSearchSourceContractTests : SourceContractTests
{
    protected override string FormatName => "cirrussearch";

    protected override (string Column, Func<int, string> Value)? Kept => ("title", i => $"Page {i}");

    protected override string Write(TempFiles files, bool withBadRecord) =>
        files.WriteBytes("dump.gz", TempFiles.Gzip(Lines(i => TempFiles.CirrusPage($"{i}", $"Page {i}", Text(i)).TrimEnd('\n'), withBadRecord, "{not json")));
}

public sealed class CsvSourceContractTests : SourceContractTests
{
    protected override string FormatName => "csv";

    protected override string Write(TempFiles files, bool withBadRecord) =>
        files.WriteBytes("table.csv.bz2", Compress.Bzip2("id,text,label\n" + Lines(i => $"d{i},\"{Text(i)}\",\"a,b\"", withBadRecord, "short")));
}

public sealed class TsvSourceContractTests : SourceContractTests
{
    protected override string FormatName => "tsv";

    protected override SourceSettings Settings => new() { FormatOptions = new Dictionary<string, string> { ["columns"] = "text,labels,id" } };

    protected override string Write(TempFiles files, bool withBadRecord) =>
        files.WriteText("train.tsv", Lines(i => $"{Text(i)}\t1,2\td{i}", withBadRecord, "only one field"));
}

public sealed class WikipediaXmlSourceContractTests : SourceContractTests
{
    protected override string FormatName => "wikixml";

    protected override (string Column, Func<int, string> Value)? Kept => ("title", i => $"Page {i}");

    protected override bool HasBadRecords => true;

    protected override string Write(TempFiles files, bool withBadRecord)
    {
        var xml = new StringBuilder("<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\" version=\"0.10\">\n<siteinfo><sitename>Test</sitename></siteinfo>\n");
        for (int i = 0; i < Count; i++)
        {
            if (withBadRecord && i == Count / 2)
            {
                xml.Append("<page><title>No id</title><revision><text>orphan</text></revision></page>\n");
            }
            xml.Append($"<page><title>Page {i}</title><ns>0</ns><id>{i}</id><revision><id>9{i}</id><text xml:space=\"preserve\">{{{{Infobox|x=1}}}}'''{Text(i)}'''</text></revision></page>\n");
        }
        xml.Append("</mediawiki>\n");
        return files.WriteBytes("pages.xml.bz2", Compress.Bzip2(xml.ToString()));
    }
}

public sealed class ArrowStreamSourceContractTests : SourceContractTests
{
    protected override string FormatName => "arrow";

    protected override bool HasBadRecords => false;

    protected override string Write(TempFiles files, bool withBadRecord) => files.WriteBytes("data-00000-of-00001.arrow", ArrowFiles.Write(Count, Text, file: false));
}

public sealed class ArrowFileSourceContractTests : SourceContractTests
{
    protected override string FormatName => "arrow";

    protected override bool HasBadRecords => false;

    protected override string Write(TempFiles files, bool withBadRecord) => files.WriteBytes("table.bin", ArrowFiles.Write(Count, Text, file: true));
}

public class ParquetSourceContractTests : SourceContractTests
{
    protected override string FormatName => "parquet";

    protected override bool HasBadRecords => false;

    protected override string Write(TempFiles files, bool withBadRecord) => WriteFile(files);

    /// <summary>60 rows in three row groups of 20, 21 and 19.</summary>
    public string WriteFile(TempFiles files)
    {
        string path = files.Path("table.parquet");
        var id = new Parquet.Schema.DataField<string>("id");
        var text = new Parquet.Schema.DataField<string>("text");
        var schema = new Parquet.Schema.ParquetSchema(id, text);
        using (FileStream stream = File.Create(path))
        {
            Parquet.ParquetWriter writer = Parquet.ParquetWriter.CreateAsync(schema, stream).GetAwaiter().GetResult();
            try
            {
                // Three row groups, so reading crosses group boundaries.
                foreach ((int start, int end) in new[] { (0, 20), (20, 41), (41, Count) })
                {
                    using Parquet.ParquetRowGroupWriter group = writer.CreateRowGroup();
                    group.WriteAsync(id, Enumerable.Range(start, end - start).Select(i => (string?)$"d{i}").ToArray()).GetAwaiter().GetResult();
                    group.WriteAsync(text, Enumerable.Range(start, end - start).Select(i => (string?)Text(i)).ToArray()).GetAwaiter().GetResult();
                }
            }
            finally
            {
                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        return path;
    }
}

public sealed class ParquetRowGroupTests
{
    [Fact]
    public async Task Resume_PassesOverFinishedRowGroupsWithoutDecodingThem()
    {
        using var files = new TempFiles();
        string path = new ParquetSourceContractTests().WriteFile(files);
        var options = new DocumentStreamOptions { Seed = 1, ShuffleBuffer = 0 };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(path), options));

        var first = new DocumentStream(SourceFactory.Create(path), options);
        List<string> head = await Collect.TextsAsync(first, take: 45);
        IDocumentSource again = SourceFactory.Create(path);
        var second = new DocumentStream(again, options);
        List<string> tail = await Collect.TextsAsync(second, first.Positions.PositionAt(45));

        Assert.Equal(whole, head.Concat(tail));
        Assert.Equal(2, second.ResumeFilesSkipped); // row groups of 20 and 21 rows
        Assert.Equal(19, again.Statistics.RecordsRead);
    }

    /// <summary>
    /// A footer's row count sizes the arrays a row group is read into: a group declaring more rows than its bytes can
    /// hold as text (here 3 million copies of one line, a few kilobytes once compressed)
    /// is refused naming the file, the group and the numbers, before anything is sized by it.
    /// </summary>
    [Fact]
    public async Task ReadAsync_RowGroupDeclaringMoreRowsThanItsBytesHold_FailsNamingTheNumbers()
    {
        using var files = new TempFiles();
        string path = files.Path("bomb.parquet");
        var text = new Parquet.Schema.DataField<string>("text");
        const int Rows = 3_000_000;
        using (FileStream stream = File.Create(path))
        {
            await using Parquet.ParquetWriter writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(text), stream, new Parquet.ParquetOptions { CompressionMethod = Parquet.CompressionMethod.Zstd });
            using Parquet.ParquetRowGroupWriter group = writer.CreateRowGroup();
            string?[] values = new string?[Rows];
            System.Array.Fill(values, "the same line");
            await group.WriteAsync(text, values);
        }
        Assert.True(new FileInfo(path).Length < 64 * 1024, $"the file is {new FileInfo(path).Length} bytes");

        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(() => Collect.DocumentsAsync(SourceFactory.Create(path)));

        Assert.Contains("bomb.parquet", error.Message, StringComparison.Ordinal);
        Assert.Contains("row group 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("declares 3,000,000 rows", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Parquet.Net 6.1's nullable read decides nullness from a pooled buffer it never fills for a required column: a
    /// pool left dirty by earlier work turned a required number column's values into nulls at random (a label lost, a
    /// kept column empty). The source reads the same values whatever the pool holds.
    /// </summary>
    [Fact]
    public async Task ReadAsync_RequiredNumberColumns_SameValuesWhateverThePoolHolds()
    {
        using var files = new TempFiles();
        string path = files.Path("numbers.parquet");
        var text = new Parquet.Schema.DataField<string>("text");
        var label = new Parquet.Schema.DataField<int>("label");
        var year = new Parquet.Schema.DataField<long>("year");
        using (FileStream stream = File.Create(path))
        {
            await using Parquet.ParquetWriter writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(text, label, year), stream);
            foreach ((int start, int end) in new[] { (0, 150), (150, 300) })
            {
                using Parquet.ParquetRowGroupWriter group = writer.CreateRowGroup();
                await group.WriteAsync(text, Enumerable.Range(start, end - start).Select(i => (string?)$"document {i}").ToArray());
                await group.WriteAsync<int>(label, Enumerable.Range(start, end - start).Select(i => i % 4).ToArray().AsMemory());
                await group.WriteAsync<long>(year, Enumerable.Range(start, end - start).Select(i => 1900L + i).ToArray().AsMemory());
            }
        }
        var settings = new SourceSettings { Columns = new SourceColumns { Keep = ["year"] } };

        for (int attempt = 0; attempt < 3; attempt++)
        {
            PoisonedPool.Fill(-1);
            List<Document> documents = await Collect.DocumentsAsync(SourceFactory.Create(path, settings));
            Assert.Equal(Enumerable.Range(0, 300).Select(i => $"{i % 4}|{1900 + i}"), documents.Select(d => $"{string.Join(",", d.Labels ?? [])}|{d.Metadata!["year"]}"));
        }
    }
}

public class ManyFilesSourceContractTests : SourceContractTests
{
    protected override string FormatName => "jsonl";

    protected override string Write(TempFiles files, bool withBadRecord)
    {
        // Six files of ten: with 1 to 4 ranks the set is split by file.
        string folder = files.Path("shards");
        Directory.CreateDirectory(folder);
        for (int f = 0; f < 6; f++)
        {
            var lines = new StringBuilder();
            for (int i = f * 10; i < (f + 1) * 10; i++)
            {
                if (withBadRecord && i == Count / 2)
                {
                    lines.Append("{broken\n");
                }
                lines.Append($"{{\"id\":\"d{i}\",\"text\":\"{Text(i)}\"}}\n");
            }
            File.WriteAllBytes(Path.Combine(folder, $"part-{f:00}.jsonl.gz"), TempFiles.Gzip(lines.ToString()));
        }
        return folder;
    }

    [Fact]
    public void Open_Folder_IsOneSourceOfItsFiles()
    {
        using var files = new TempFiles();
        IDocumentSource source = SourceFactory.Create(Write(files, withBadRecord: false));
        Assert.Equal(6, Assert.IsAssignableFrom<IPartitionedSource>(source).PartitionCount);
        Assert.True(new DocumentStream(source, Stream with { Rank = new RankInfo(1, 4) }).ShardsByFile);
    }

    [Theory]
    [InlineData(1, 0, 25)]
    [InlineData(1, 0, 45)]
    [InlineData(1, 16, 45)]
    [InlineData(1, 16, 55)]
    [InlineData(1, 16, 59)]
    [InlineData(2, 16, 20)]
    [InlineData(2, 4, 29)]
    [InlineData(8, 16, 5)]
    [InlineData(8, 0, 6)]
    [InlineData(5, 0, 5, 3)]
    [InlineData(8, 4, 4, 4)]
    [InlineData(7, 0, 5, 3)]
    [InlineData(1, 40, 9)]
    [InlineData(1, 40, 27)]
    [InlineData(2, 24, 11)]
    public async Task Resume_PassesOverFinishedFilesUnread_AndStillContinuesExactly(int worldSize, int buffer, int stopAfter, int block = 1)
    {
        using var files = new TempFiles();
        string folder = Write(files, withBadRecord: false);
        var rank = new RankInfo(worldSize - 1, worldSize);
        var options = Stream with { Seed = 2, ShuffleBuffer = buffer, Epochs = 2, Rank = rank, ShardBlock = block };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(folder), options));
        if (Stream.Interleave > 1)
        {
            // Interleaved units deal blocks differently: keep the stop inside this rank's first epoch.
            stopAfter = Math.Min(stopAfter, (whole.Count / 2) - 1);
        }
        Assert.True(stopAfter < whole.Count / 2, $"stop {stopAfter} is not inside the first epoch of {whole.Count / 2}");

        var first = new DocumentStream(SourceFactory.Create(folder), options);
        List<string> head = await Collect.TextsAsync(first, take: stopAfter);
        ProviderPosition position = first.Positions.PositionAt(stopAfter);
        string saved = files.Path("position.json");
        position.Save(saved);
        IDocumentSource again = SourceFactory.Create(folder);
        var second = new DocumentStream(again, options);
        List<string> tail = await Collect.TextsAsync(second, ProviderPosition.Load(saved));

        Assert.Equal(whole, head.Concat(tail));
        Assert.NotNull(position.PartitionCounts);
        // Without a buffer everything before the stop was emitted; with one, only what no longer waits in it. Files are
        // passed over by whole units of those read together (ten documents a file).
        int unit = 10 * Stream.Interleave;
        long passedOver = buffer == 0 ? stopAfter / unit * Stream.Interleave : stopAfter == 59 ? 2 : 0;
        if (worldSize == 1 && passedOver > 0)
        {
            Assert.True(second.ResumeFilesSkipped >= passedOver, $"{second.ResumeFilesSkipped} files passed over, expected at least {passedOver}");
            Assert.True(again.Statistics.RecordsRead < 2 * Count, $"{again.Statistics.RecordsRead} records read again");
        }
    }

    [Fact]
    public async Task Open_GlobAndList_ReadTheSameFiles()
    {
        using var files = new TempFiles();
        string folder = Write(files, withBadRecord: false);
        string list = files.WriteText("list.txt", string.Join('\n', Directory.GetFiles(folder).Order().Reverse()));

        List<Document> byGlob = await Collect.DocumentsAsync(SourceFactory.Create(Path.Combine(folder, "part-*.jsonl.gz")));
        List<Document> byList = await Collect.DocumentsAsync(SourceFactory.Create("@" + list));

        Assert.Equal(Enumerable.Range(0, Count).Select(Text), byGlob.Select(d => d.Text));
        Assert.Equal(Count, byList.Count);
        Assert.Equal(Enumerable.Range(50, 10).Select(Text), byList.Take(10).Select(d => d.Text));
    }
}

/// <summary>
/// The many-file contract with files read four at a time and taken in turns of three documents: the stream's order is
/// no longer file by file, and every resume, rank split and position must hold all the same.
/// </summary>
public sealed class InterleavedFilesSourceContractTests : ManyFilesSourceContractTests
{
    protected override DocumentStreamOptions Stream => new() { Interleave = 4, InterleaveTurn = 3 };

    [Fact]
    public async Task ReadAsync_TakesTheFilesInTurns_FourAtATime()
    {
        using var files = new TempFiles();
        List<Document> docs = await Collect.AllAsync(new DocumentStream(SourceFactory.Create(Write(files, withBadRecord: false)), Stream).ReadAsync());

        // Files 0-3 in turns of three until each of their ten is taken (the last turns one each), then files 4 and 5.
        int[] expected = [
            .. Enumerable.Range(0, 3).SelectMany(round => Enumerable.Range(0, 4).SelectMany(f => Enumerable.Range((f * 10) + (round * 3), 3))),
            .. Enumerable.Range(0, 4).Select(f => (f * 10) + 9),
            .. Enumerable.Range(0, 3).SelectMany(round => Enumerable.Range(4, 2).SelectMany(f => Enumerable.Range((f * 10) + (round * 3), 3))),
            .. Enumerable.Range(4, 2).Select(f => (f * 10) + 9),
        ];
        Assert.Equal(expected.Select(i => $"d{i}"), docs.Select(d => d.Id.Split(':').Last()));
        Assert.Equal(expected.Select(i => i / 10), docs.Select(d => d.SourcePart));
        Assert.Equal(expected.Select(i => (long)(i % 10)), docs.Select(d => d.SourceOrdinal));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 3)]
    [InlineData(8, 6)]
    public async Task ReadAsync_OrderDoesNotDependOnThePartsReadAtOnce(int decodeThreads, int partsAtOnce)
    {
        using var files = new TempFiles();
        string folder = Write(files, withBadRecord: true);
        var options = Stream with { Seed = 9, ShuffleBuffer = 16, Epochs = 2 };
        ParallelRead serial = await ParallelRead.RunAsync(folder, Settings, options, decodeThreads: 1, partsAtOnce: 1);
        ParallelRead other = await ParallelRead.RunAsync(folder, Settings, options, decodeThreads, partsAtOnce);

        Assert.Equal(serial.Documents, other.Documents);
        Assert.Equal(serial.Positions, other.Positions);
        Assert.Equal(serial.Skips, other.Skips);
    }

    [Fact]
    public async Task Resume_FromAPositionSavedBeforeInterleaving_ReadsFileByFileAsItWasSaved()
    {
        // A position with no interleave (saved by an earlier version) pins the file-by-file order it was saved in.
        using var files = new TempFiles();
        string folder = Write(files, withBadRecord: false);
        var fileByFile = new DocumentStreamOptions { Seed = 4, ShuffleBuffer = 8 };
        List<string> whole = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(folder), fileByFile));
        var first = new DocumentStream(SourceFactory.Create(folder), fileByFile);
        List<string> head = await Collect.TextsAsync(first, take: 23);
        string json = first.Positions.PositionAt(23).ToJson();
        string old = System.Text.RegularExpressions.Regex.Replace(json, "\\s*\"interleave(_turn)?\": \\d+,", string.Empty);
        Assert.DoesNotContain("interleave", old);

        List<string> tail = await Collect.TextsAsync(new DocumentStream(SourceFactory.Create(folder), Stream with { Seed = 4, ShuffleBuffer = 8 }), ProviderPosition.FromJson(old, "test"));

        Assert.Equal(whole, head.Concat(tail));
    }
}

/// <summary>
/// The Parquet contract with an interleave asked for: a row group is decoded whole into memory, so row groups are taken
/// one at a time whatever the width (<see cref="IPartitionedSource.Interleaves"/>), and the contract holds as it does.
/// </summary>
public sealed class InterleavedParquetSourceContractTests : ParquetSourceContractTests
{
    protected override DocumentStreamOptions Stream => new() { Interleave = 2, InterleaveTurn = 4 };

    [Fact]
    public async Task ReadAsync_RowGroupsAreNotInterleaved_TheOrderIsTheRowGroupsOrder()
    {
        using var files = new TempFiles();
        string path = WriteFile(files);
        List<Document> docs = await Collect.AllAsync(new DocumentStream(SourceFactory.Create(path), Stream).ReadAsync());

        Assert.Equal(Enumerable.Range(0, Count).Select(Text), docs.Select(d => d.Text));
    }
}


/// <summary>Compressors for test inputs.</summary>
internal static class Compress
{
    public static byte[] Zstd(string text)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(Encoding.UTF8.GetBytes(text)).ToArray();
    }

    public static byte[] Bzip2(string text)
    {
        using var output = new MemoryStream();
        using (var bzip = new ICSharpCode.SharpZipLib.BZip2.BZip2OutputStream(output) { IsStreamOwner = false })
        {
            bzip.Write(Encoding.UTF8.GetBytes(text));
        }
        return output.ToArray();
    }
}

/// <summary>Arrow IPC files written with Apache.Arrow (the npm-written ones are in <see cref="ArrowInteropTests"/>).</summary>
internal static class ArrowFiles
{
    public static byte[] Write(int count, Func<int, string> text, bool file)
    {
        var ids = new StringArray.Builder();
        var texts = new StringArray.Builder();
        for (int i = 0; i < count; i++)
        {
            ids.Append($"d{i}");
            texts.Append(text(i));
        }
        var batch = new RecordBatch(new Schema.Builder().Field(f => f.Name("id").DataType(Apache.Arrow.Types.StringType.Default)).Field(f => f.Name("text").DataType(Apache.Arrow.Types.StringType.Default)).Build(),
            [ids.Build(), texts.Build()], count);
        using var output = new MemoryStream();
        if (file)
        {
            using var writer = new ArrowFileWriter(output, batch.Schema, leaveOpen: true);
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        else
        {
            using var writer = new ArrowStreamWriter(output, batch.Schema, leaveOpen: true);
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return output.ToArray();
    }
}

public sealed class TextSourceContractTests : SourceContractTests
{
    protected override string FormatName => "text";

    protected override SourceSettings Settings => new() { FormatOptions = new Dictionary<string, string> { ["split-on"] = "line" } };

    protected override (string Column, Func<int, string> Value)? Kept => null;

    protected override string Write(TempFiles files, bool withBadRecord)
    {
        // Plain text's bad record: a line that is not UTF-8 (the byte 0xFF never is), written as \u0001 first.
        byte[] text = Encoding.UTF8.GetBytes(Lines(Text, withBadRecord, "\u0001"));
        return files.WriteBytes("notes.txt", [.. text.Select(b => b == 1 ? (byte)0xFF : b)]);
    }
}

/// <summary>
/// A rank's stream read with a number of decode threads and parts at once, written down in full: every document's
/// fields and provenance, the position after each, and the skips with their examples.
/// </summary>
internal sealed record ParallelRead(List<string> Documents, List<string> Positions, List<string> Skips)
{
    public static async Task<ParallelRead> RunAsync(string location, SourceSettings settings, DocumentStreamOptions options, int decodeThreads, int partsAtOnce)
    {
        IDocumentSource source = SourceFactory.Create(location, settings with { Lines = settings.Lines with { DecodeThreads = decodeThreads, PartsAtOnce = partsAtOnce } });
        var stream = new DocumentStream(source, options);
        var documents = new List<string>();
        var positions = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (Document d in stream.ReadAsync(cancellationToken: cts.Token))
        {
            string labels = d.Labels is null ? "-" : string.Join(',', d.Labels);
            string metadata = d.Metadata is null ? "-" : string.Join(',', d.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value}"));
            documents.Add($"{d.Ordinal}|{d.Id}|{d.Text}|{labels}|{metadata}|{d.SourcePart}|{d.SourceOrdinal}|{d.SourceOffset}|{d.SourceLine}|{d.SourceName}");
            positions.Add(stream.Positions.PositionAt(d.Ordinal + 1).ToJson());
        }
        var skips = source.Statistics.SkippedByReason.Select(r => $"{r.Key}={r.Value}")
            .Concat(source.Statistics.Examples.OrderBy(e => e.Key, StringComparer.Ordinal).SelectMany(e => e.Value.Select(x => $"{e.Key}: {x}")))
            .ToList();
        return new ParallelRead(documents, positions, skips);
    }
}
