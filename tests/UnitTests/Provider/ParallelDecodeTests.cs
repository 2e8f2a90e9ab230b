using System.Text;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Decoding;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// Decoding on worker threads and reading parts ahead change nothing a consumer sees: over inputs of many chunks with
/// every kind of bad line, the stream, each position and each skip (with its example) are those of the serial decode;
/// a failure keeps its place; a consumer that stops early leaves nothing running.
/// </summary>
public sealed class ParallelDecodeTests
{
    private static readonly SourceSettings Strict = new() { Lines = new LineReaderOptions { MaxLineBytes = 4000 } };

    /// <summary>JSON Lines of <paramref name="count"/> records with a bad line of some kind every 37 lines, and blank lines.</summary>
    private static byte[] JsonlWithBadLines(int count, int fileIndex)
    {
        var bytes = new List<byte>();
        var random = new Random(fileIndex);
        for (int i = 0; i < count; i++)
        {
            string text = string.Join(' ', Enumerable.Range(0, random.Next(1, 60)).Select(w => $"w{random.Next(1000)}")) + " caf\u00e9 \\n \\u00e9";
            string line = (i % 37) switch
            {
                5 => "{\"id\": broken",
                9 => $"{{\"id\":\"f{fileIndex}-{i}\",\"body\":\"no text field\"}}",
                13 => $"{{\"id\":\"f{fileIndex}-{i}\",\"text\":\"   \"}}",
                17 => $"{{\"id\":\"f{fileIndex}-{i}\",\"text\":\"{new string('x', 5000)}\"}}",
                21 => string.Empty,
                _ => $"{{\"id\":\"f{fileIndex}-{i}\",\"text\":\"{text}\",\"label\":[\"a{i % 3}\"]}}",
            };
            bytes.AddRange(Encoding.UTF8.GetBytes(line));
            bytes.Add((byte)'\n');
            if (i % 37 == 25)
            {
                // Invalid UTF-8 inside an otherwise good record.
                bytes.AddRange(Encoding.UTF8.GetBytes($"{{\"id\":\"f{fileIndex}-{i}-bad\",\"text\":\"a "));
                bytes.AddRange(new byte[] { 0xC3, 0x28 });
                bytes.AddRange(Encoding.UTF8.GetBytes(" b\"}"));
                bytes.Add((byte)'\n');
            }
        }
        return [.. bytes];
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(3, 64)]
    public async Task Jsonl_ManyChunksAndEveryKindOfBadLine_SameAsTheSerialDecode(int seed, int buffer)
    {
        using var files = new TempFiles();
        // One plain file (its offsets are seek marks) of many chunks.
        string file = files.WriteBytes("big.jsonl", JsonlWithBadLines(1500, 0));
        var options = new DocumentStreamOptions { Seed = seed, ShuffleBuffer = buffer, Epochs = 2 };

        ParallelRead serial = await ParallelRead.RunAsync(file, Strict, options, decodeThreads: 1, partsAtOnce: 1);
        foreach (int threads in new[] { 2, 5 })
        {
            ParallelRead parallel = await ParallelRead.RunAsync(file, Strict, options, decodeThreads: threads, partsAtOnce: 1);
            Assert.Equal(serial.Documents, parallel.Documents);
            Assert.Equal(serial.Positions, parallel.Positions);
            Assert.Equal(serial.Skips, parallel.Skips);
        }
        Assert.True(serial.Documents.Count > 2500, $"{serial.Documents.Count} documents");
        Assert.Contains(serial.Skips, s => s.StartsWith("invalid_utf8=", StringComparison.Ordinal));
        Assert.Contains(serial.Skips, s => s.StartsWith("oversized=", StringComparison.Ordinal));
        Assert.Contains(serial.Skips, s => s.StartsWith("malformed_json=", StringComparison.Ordinal));
        Assert.Contains(serial.Skips, s => s.StartsWith("missing_text_field=", StringComparison.Ordinal));
        Assert.Contains(serial.Skips, s => s.StartsWith("empty_text=", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, 0, 1)]
    [InlineData(4, 32, 1)]
    [InlineData(4, 32, 2)]
    public async Task ManyGzipFiles_ReadAheadAndDecodedInParallel_SameAsOneAtATime(int seed, int buffer, int worldSize)
    {
        using var files = new TempFiles();
        string folder = files.Path("shards");
        Directory.CreateDirectory(folder);
        for (int f = 0; f < 5; f++)
        {
            File.WriteAllBytes(Path.Combine(folder, $"part-{f}.jsonl.gz"), TempFiles.Gzip(Encoding.UTF8.GetString(JsonlWithBadLines(400 + (f * 50), f))));
        }
        for (int rank = 0; rank < worldSize; rank++)
        {
            var options = new DocumentStreamOptions { Seed = seed, ShuffleBuffer = buffer, Epochs = 2, Rank = new RankInfo(rank, worldSize) };
            ParallelRead serial = await ParallelRead.RunAsync(folder, Strict, options, decodeThreads: 1, partsAtOnce: 1);
            ParallelRead parallel = await ParallelRead.RunAsync(folder, Strict, options, decodeThreads: 3, partsAtOnce: 3);
            Assert.Equal(serial.Documents, parallel.Documents);
            Assert.Equal(serial.Positions, parallel.Positions);
            Assert.Equal(serial.Skips, parallel.Skips);
            Assert.NotEmpty(serial.Documents);
        }
    }

    [Fact]
    public async Task CirrusSearch_PagesWhosePairsCrossChunks_SameAsTheSerialDecode()
    {
        using var files = new TempFiles();
        var dump = new StringBuilder();
        for (int i = 0; i < 700; i++)
        {
            if (i % 97 == 50)
            {
                // An action line whose page line is broken: the next page must not take its id.
                dump.Append($"{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"namespace\": 0, \"title\": broken\n");
                continue;
            }
            dump.Append(TempFiles.CirrusPage($"{i}", $"Page {i}", $"text of page {i} " + new string('y', i % 300), ns: i % 41 == 0 ? 1 : 0));
        }
        string location = files.WriteText("dump.json", dump.ToString());
        var options = new DocumentStreamOptions { Seed = 2, ShuffleBuffer = 16 };

        ParallelRead serial = await ParallelRead.RunAsync(location, new SourceSettings(), options, decodeThreads: 1, partsAtOnce: 1);
        ParallelRead parallel = await ParallelRead.RunAsync(location, new SourceSettings(), options, decodeThreads: 4, partsAtOnce: 1);

        Assert.Equal(serial.Documents, parallel.Documents);
        Assert.Equal(serial.Positions, parallel.Positions);
        Assert.Equal(serial.Skips, parallel.Skips);
        Assert.Contains(serial.Skips, s => s.StartsWith("namespace=", StringComparison.Ordinal));
        Assert.Contains(serial.Skips, s => s.StartsWith("malformed_json=", StringComparison.Ordinal));
    }

    [SkippableTheory]
    [InlineData(0, 0)]
    [InlineData(8, 32)]
    public async Task WikipediaXml_RealDumpCleanedOnWorkers_SameAsTheSerialDecode(int seed, int buffer)
    {
        string dump = SharedData.Require("wiki/enwiki-pages-articles-shortened-205pages.xml.bz2");
        var options = new DocumentStreamOptions { Seed = seed, ShuffleBuffer = buffer };

        ParallelRead serial = await ParallelRead.RunAsync(dump, new SourceSettings(), options, decodeThreads: 1, partsAtOnce: 1);
        ParallelRead parallel = await ParallelRead.RunAsync(dump, new SourceSettings(), options, decodeThreads: 4, partsAtOnce: 1);

        Assert.True(serial.Documents.Count > 64, $"{serial.Documents.Count} pages: more than two chunks");
        Assert.Equal(serial.Documents, parallel.Documents);
        Assert.Equal(serial.Positions, parallel.Positions);
        Assert.Equal(serial.Skips, parallel.Skips);
        Assert.Contains(serial.Skips, s => s.StartsWith("redirect=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TruncatedGzip_ParallelDecode_FailsAfterTheSameDocumentsAsTheSerialOne()
    {
        using var files = new TempFiles();
        byte[] whole = TempFiles.Gzip(Encoding.UTF8.GetString(JsonlWithBadLines(3000, 7)));
        string location = files.WriteBytes("cut.jsonl.gz", whole[..(whole.Length * 2 / 3)]);

        var counts = new List<int>();
        var messages = new List<string>();
        foreach (int threads in new[] { 1, 4 })
        {
            int read = 0;
            IDocumentSource source = SourceFactory.Create(location, Strict with { Lines = Strict.Lines with { DecodeThreads = threads } });
            SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(async () =>
            {
                await foreach (Document _ in source.ReadAsync())
                {
                    read++;
                }
            });
            counts.Add(read);
            messages.Add(error.Message);
        }

        Assert.True(counts[0] > 1000, $"{counts[0]} documents before the cut");
        Assert.Equal(counts[0], counts[1]);
        Assert.Equal(messages[0], messages[1]);
    }

    [Fact]
    public async Task ManyFiles_APartReadAheadFails_ItsErrorComesAfterThePartsBeforeIt()
    {
        using var files = new TempFiles();
        string folder = files.Path("shards");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "part-0.jsonl.gz"), TempFiles.Gzip(Encoding.UTF8.GetString(JsonlWithBadLines(600, 0))));
        byte[] cut = TempFiles.Gzip(Encoding.UTF8.GetString(JsonlWithBadLines(600, 1)));
        File.WriteAllBytes(Path.Combine(folder, "part-1.jsonl.gz"), cut[..(cut.Length / 2)]);
        File.WriteAllBytes(Path.Combine(folder, "part-2.jsonl.gz"), TempFiles.Gzip(Encoding.UTF8.GetString(JsonlWithBadLines(600, 2))));

        var read = new List<int>();
        foreach (int parts in new[] { 1, 3 })
        {
            IDocumentSource source = SourceFactory.Create(folder, Strict with { Lines = Strict.Lines with { DecodeThreads = 2, PartsAtOnce = parts } });
            int documents = 0;
            SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(async () =>
            {
                await foreach (Document _ in source.ReadAsync())
                {
                    documents++;
                }
            });
            Assert.Contains("part-1.jsonl.gz", error.Message, StringComparison.Ordinal);
            read.Add(documents);
        }

        Assert.Equal(read[0], read[1]);
        Assert.True(read[0] > 500, $"{read[0]} documents before the cut part's failure");
    }

    [Fact]
    public async Task OrderedDecode_ConsumerStopsEarly_EveryChunkInFlightFinishesAndIsDisposed()
    {
        var disposed = new List<int>();
        int decoding = 0;
        int mostAtOnce = 0;
        async IAsyncEnumerable<Probe> FramedAsync()
        {
            for (int i = 0; i < 1000; i++)
            {
                await Task.Yield();
                yield return new Probe(i, disposed);
            }
        }
        void Decode(Probe probe)
        {
            int now = Interlocked.Increment(ref decoding);
            InterlockedMax(ref mostAtOnce, now);
            Thread.Sleep(2);
            probe.Decoded = true;
            Interlocked.Decrement(ref decoding);
        }

        var seen = new List<int>();
        await foreach (Probe probe in OrderedDecode.RunAsync(FramedAsync(), Decode, threads: 3))
        {
            Assert.True(probe.Decoded);
            seen.Add(probe.Index);
            probe.Dispose();
            if (seen.Count == 20)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, 20), seen);
        Assert.Equal(0, Volatile.Read(ref decoding));
        Assert.InRange(mostAtOnce, 1, 6);
        lock (disposed)
        {
            // Every chunk framed was disposed once: the 20 taken by the consumer, and those in flight by the stage.
            Assert.Equal(disposed.Count, disposed.Distinct().Count());
            Assert.Equal(Enumerable.Range(0, disposed.Count), disposed.Order());
        }
    }

    [Fact]
    public async Task OrderedDecode_DecodeFails_TheChunksBeforeItComeFirst()
    {
        async IAsyncEnumerable<Probe> FramedAsync()
        {
            for (int i = 0; i < 50; i++)
            {
                await Task.Yield();
                yield return new Probe(i, []);
            }
        }

        var seen = new List<int>();
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (Probe probe in OrderedDecode.RunAsync(FramedAsync(), p => { if (p.Index == 30) { throw new InvalidDataException("chunk 30"); } }, threads: 4))
            {
                seen.Add(probe.Index);
            }
        });

        Assert.Equal("chunk 30", error.Message);
        Assert.Equal(Enumerable.Range(0, 30), seen);
    }

    [Fact]
    public async Task SerialStageOnly_FramesEveryRecordWithoutDecodingIt()
    {
        using var files = new TempFiles();
        string file = files.WriteBytes("big.jsonl", JsonlWithBadLines(1000, 1));
        IDocumentSource source = SourceFactory.Create(file, SerialStage.Only(Strict));

        List<Document> records = await Collect.DocumentsAsync(source);

        Assert.All(records, r => Assert.Same(SerialStage.Record, r));
        // Every non-blank line is framed, bad ones included (blank lines: one in 37).
        Assert.Equal(source.Statistics.RecordsRead - Enumerable.Range(0, 1000).Count(i => i % 37 == 21), records.Count);
        SerialStageTime jsonl = await SerialStage.TimeAsync(SourceFactory.Create(file, SerialStage.Only(Strict)), records.Count, interleave: 8, partsAtOnce: 4, whole: false, CancellationToken.None);
        Assert.False(jsonl.Decodes);
        Assert.Equal(1, jsonl.Readers);
        Assert.True(jsonl.Seconds > 0);
        // A format that decodes on its reading thread: said at its first record, and timed whole only when asked.
        string csvFile = files.WriteText("t.csv", "id,text\n1,a b\n2,c d\n");
        SerialStageTime csv = await SerialStage.TimeAsync(SourceFactory.Create(csvFile, SerialStage.Only(new SourceSettings())), 2, interleave: 8, partsAtOnce: 4, whole: false, CancellationToken.None);
        Assert.True(csv.Decodes);
        Assert.Equal(0, csv.Seconds);
        SerialStageTime csvWhole = await SerialStage.TimeAsync(SourceFactory.Create(csvFile, SerialStage.OneThread(SerialStage.Only(new SourceSettings()))), 2, interleave: 8, partsAtOnce: 4, whole: true, CancellationToken.None);
        Assert.True(csvWhole.Decodes);
        Assert.True(csvWhole.Seconds > 0);
    }

    [Theory]
    [InlineData(1, 4, 1)]
    [InlineData(4, 1, 1)]
    [InlineData(4, 4, 4)]
    [InlineData(8, 2, 3)]
    [InlineData(8, 8, 5)]
    public async Task SerialStageTime_ManyFiles_ReadersAsTheStreamHasThem(int interleave, int partsAtOnce, int readers)
    {
        // Five files of 200 records, each part's serial stage timed alone. A unit's first `partsAtOnce` parts have
        // readers of their own and the rest are read on the stream's thread, one after another: one part at a time
        // (no interleave, or no readers of their own) is the one-at-a-time time, else it is less and at least the
        // slowest part's share.
        using var files = new TempFiles();
        string folder = files.Path("parts");
        Directory.CreateDirectory(folder);
        for (int f = 0; f < 5; f++)
        {
            File.WriteAllBytes(Path.Combine(folder, $"p{f}.jsonl.gz"), TempFiles.Gzip(string.Concat(Enumerable.Range(0, 200).Select(i => $"{{\"id\":\"{f}-{i}\",\"text\":\"words of record {i}\"}}\n"))));
        }

        SerialStageTime time = await SerialStage.TimeAsync(SourceFactory.Create(folder, SerialStage.Only(Strict)), 1000, interleave, partsAtOnce, whole: false, CancellationToken.None);

        Assert.False(time.Decodes);
        Assert.Equal(readers, time.Readers);
        if (readers == 1)
        {
            Assert.Equal(time.OneAtATimeSeconds, time.Seconds, 9);
        }
        else
        {
            Assert.True(time.Seconds < time.OneAtATimeSeconds, $"{time.Seconds} s side by side, {time.OneAtATimeSeconds} s one at a time");
            Assert.True(time.Seconds >= time.OneAtATimeSeconds / 5, $"{time.Seconds} s side by side, {time.OneAtATimeSeconds} s one at a time");
        }
    }

    [Fact]
    public async Task SerialStageTime_ParquetRowGroups_AreNotInterleaved_OneReader()
    {
        using var files = new TempFiles();
        string path = new ParquetSourceContractTests().WriteFile(files);

        SerialStageTime time = await SerialStage.TimeAsync(SourceFactory.Create(path, SerialStage.OneThread(SerialStage.Only(new SourceSettings()))), 60, interleave: 8, partsAtOnce: 4, whole: true, CancellationToken.None);

        Assert.True(time.Decodes);
        Assert.Equal(1, time.Readers);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private sealed class Probe(int index, List<int> disposed) : IDisposable
    {
        private int _disposed;

        public int Index { get; } = index;

        public bool Decoded { get; set; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (disposed)
                {
                    disposed.Add(Index);
                }
            }
        }
    }
}
