using System.IO.Compression;
using System.Text;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Core.Documents;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Tests.Provider;
using Xunit.Abstractions;

namespace StreamLoader.Tests.Fuzzing;

/// <summary>
/// Every source reader under the mutation fuzzer (<see cref="FrameMutator"/>), from seeds cut from the real files in
/// ../shared/data (the Python docs as JSON Lines, the CirrusSearch and Wikipedia XML dumps, Made-With-ML's CSV,
/// GoEmotions' TSV; the JSON Lines seed also gzip-, bzip2- and zstd-compressed) and from Arrow and Parquet files the
/// contract tests write. A mutated file must read to its end (bad records skipped and counted) or fail with an
/// <see cref="InvalidDataException"/>, <see cref="IOException"/> or <see cref="SourceFormatException"/> whose message names the file — never another
/// exception, and never a hang (each read has 20 s).
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output)
{
    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("STREAMLOADER_FUZZ_ITERATIONS"), out int n) && n > 0 ? n / 100 : 60;

    public static TheoryData<string> Formats => ["jsonl", "cirrussearch", "wikixml", "csv", "tsv", "jsonl.gz", "jsonl.bz2", "jsonl.zst", "arrow", "parquet"];

    [SkippableTheory]
    [MemberData(nameof(Formats))]
    public async Task MutatedFiles_ReadOrFailNamingTheFile(string format)
    {
        (int clean, int failed, long skipped) = await FuzzAsync(format, seed: 7, Iterations, TimeSpan.MaxValue);
        output.WriteLine($"{format}: {clean + failed:N0} mutated files: {clean:N0} read to their end ({skipped:N0} records skipped and counted), {failed:N0} failed naming the file, 0 other exceptions, 0 hangs");
        Assert.True(clean + failed == Iterations);
    }

    /// <summary>The time-boxed run .ci/run makes after the fast suite: about 40 s over every reader, from a seed that changes every run.</summary>
    [SkippableFact]
    [Trait("Category", "EndToEnd")]
    public async Task LongRun_EveryReader_NoOtherExceptionNoHang()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        foreach (string format in Formats)
        {
            (int clean, int failed, long skipped) = await FuzzAsync(format, seed, int.MaxValue, TimeSpan.FromSeconds(4));
            output.WriteLine($"{format}: {clean + failed:N0} mutated files ({clean:N0} read, {skipped:N0} records skipped; {failed:N0} failed naming the file)");
        }
    }

    static ReaderFuzzTests()
    {
        // A damaged page can loop Parquet.Net forever; the reader's deadline (a minute for a sound file) is cut here.
        StreamLoader.Provider.Parquet.ParquetDocumentReader.DecodeDeadline = TimeSpan.FromSeconds(5);
    }

    /// <summary>
    /// Found by the long run (seed 22628125, iteration 1352 of the Parquet seed): one flipped bit in the footer sent
    /// Parquet.Net's Thrift decoder into a loop that never ended and never looked at its token; the run hung and one
    /// SIGTERM did not stop it. Now the footer's decode has a deadline and the file is named.
    /// </summary>
    [SkippableFact]
    public async Task ParquetFooterThatLoopsTheDecoder_FailsNamingTheFile()
    {
        using var files = new TempFiles();
        byte[] seed = File.ReadAllBytes(new ParquetSourceContractTests().WriteFile(files));
        var mutator = new FrameMutator(22628125);
        byte[] input = seed;
        for (int i = 0; i <= 1352; i++)
        {
            (input, _) = mutator.Mutate(seed, seed);
        }
        string path = files.WriteBytes("looping.parquet", input);

        var error = await Assert.ThrowsAsync<SourceFormatException>(() => Task.Run(() => Collect.DocumentsAsync(SourceFactory.Create(path, new SourceSettings { Format = "parquet" }), timeoutSeconds: 60)).WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Contains("looping.parquet", error.Message, StringComparison.Ordinal);
        Assert.Contains("did not decode within 5 s; the footer is damaged", error.Message, StringComparison.Ordinal);
    }

    private static async Task<(int Clean, int Failed, long Skipped)> FuzzAsync(string format, int seed, int iterations, TimeSpan budget)
    {
        using var files = new TempFiles();
        (string name, byte[] bytes, SourceSettings settings) = Seed(format, files);
        var mutator = new FrameMutator(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int clean = 0, failed = 0;
        long skipped = 0;
        for (int i = 0; i < iterations && clock.Elapsed < budget; i++)
        {
            (byte[] input, string what) = mutator.Mutate(bytes, bytes);
            string path = files.Path($"{i}-{name}");
            await File.WriteAllBytesAsync(path, input);
            try
            {
                IDocumentSource source = SourceFactory.Create(path, settings);
                // On a task of its own, so that a reader stuck in a loop that never looks at its token fails the test
                // with its input instead of hanging the suite.
                await Task.Run(() => Collect.DocumentsAsync(source, timeoutSeconds: 20)).WaitAsync(TimeSpan.FromSeconds(30));
                skipped += source.Statistics.Skipped;
                clean++;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or SourceFormatException)
            {
                Assert.True(ex.Message.Contains(Path.GetFileName(path), StringComparison.Ordinal), $"{format}, seed {seed}, iteration {i} ({what}): the message does not name the file: {ex.GetType().Name}: {ex.Message}");
                failed++;
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
            {
                Assert.Fail($"{format}, seed {seed}, iteration {i} ({what}): the read did not end within 20 s\ninput (base64): {Convert.ToBase64String(input)}");
            }
            catch (Exception ex)
            {
                Assert.Fail($"{format}, seed {seed}, iteration {i} ({what}): {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}\ninput (base64): {Convert.ToBase64String(input)}");
            }
            File.Delete(path);
        }
        return (clean, failed, skipped);
    }

    /// <summary>A small real file of <paramref name="format"/>: its name, bytes and the settings that read it.</summary>
    private static (string Name, byte[] Bytes, SourceSettings Settings) Seed(string format, TempFiles files)
    {
        switch (format)
        {
            case "jsonl":
                return ("docs.jsonl", Encoding.UTF8.GetBytes(JsonlSeed()), new SourceSettings { Format = "jsonl" });
            case "jsonl.gz":
                return ("docs.jsonl.gz", TempFiles.Gzip(JsonlSeed()), new SourceSettings { Format = "jsonl" });
            case "jsonl.bz2":
                return ("docs.jsonl.bz2", Compress.Bzip2(JsonlSeed()), new SourceSettings { Format = "jsonl" });
            case "jsonl.zst":
                return ("docs.jsonl.zst", Compress.Zstd(JsonlSeed()), new SourceSettings { Format = "jsonl" });
            case "cirrussearch":
                return ("dump.json", Encoding.UTF8.GetBytes(string.Join('\n', Lines(SharedData.CirrusSample, gzip: true).Take(8)) + "\n"), new SourceSettings { Format = "cirrussearch" });
            case "wikixml":
                string xml = Text("wiki/enwiki-pages-articles-shortened-205pages.xml.bz2", bzip2: true, maxChars: 400_000);
                int end = 0;
                for (int page = 0; page < 3; page++)
                {
                    end = xml.IndexOf("</page>", end, StringComparison.Ordinal) + "</page>".Length;
                }
                return ("pages.xml", Encoding.UTF8.GetBytes(xml[..end] + "\n</mediawiki>\n"), new SourceSettings { Format = "wikixml" });
            case "csv":
                return ("data.csv", Encoding.UTF8.GetBytes(string.Join('\n', File.ReadLines(SharedData.Require("labelled/made-with-ml/dataset.csv")).Take(40)) + "\n"),
                    new SourceSettings { Format = "csv", Columns = new SourceColumns { Text = ["title", "description"], TextGiven = true, Label = "tag" } });
            case "tsv":
                return ("dev.tsv", Encoding.UTF8.GetBytes(string.Join('\n', File.ReadLines(SharedData.Require("labelled/goemotions/dev.tsv")).Take(40)) + "\n"),
                    new SourceSettings { Format = "tsv", FormatOptions = new Dictionary<string, string> { ["columns"] = "text,labels,id" } });
            case "arrow":
                return ("data.arrow", ArrowFiles.Write(30, i => $"text of document {i}, with words", file: false), new SourceSettings { Format = "arrow" });
            case "parquet":
                string written = new ParquetSourceContractTests().WriteFile(files);
                return ("table.parquet", File.ReadAllBytes(written), new SourceSettings { Format = "parquet" });
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }

        static string JsonlSeed() => string.Join('\n', Lines(SharedData.PythonDocs, gzip: true).Take(3)) + "\n";
    }

    private static IEnumerable<string> Lines(string relative, bool gzip)
    {
        using var reader = new StreamReader(gzip ? new GZipStream(File.OpenRead(SharedData.Require(relative)), CompressionMode.Decompress) : File.OpenRead(SharedData.Require(relative)));
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

    private static string Text(string relative, bool bzip2, int maxChars)
    {
        using Stream file = File.OpenRead(SharedData.Require(relative));
        using Stream decompressed = bzip2 ? new ICSharpCode.SharpZipLib.BZip2.BZip2InputStream(file) : file;
        using var reader = new StreamReader(decompressed);
        var buffer = new char[maxChars];
        int read = reader.ReadBlock(buffer, 0, maxChars);
        return new string(buffer, 0, read);
    }
}
