using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using StreamLoader.Provider.Input;

namespace StreamLoader.Benchmarks;

/// <summary>
/// Decompressing a multi-unit file on one thread against two: over 200 MB of JSON Lines (the Python docs, repeated
/// with fresh ids) cut into units as pbzip2 (900 kB) and pzstd (4 MiB) write them, read through the provider's
/// <see cref="Compression.Decompress(CompressionKind, Stream, int)"/>. The ratio is two threads' time over one's.
/// </summary>
/// <remarks>The compressed files are made once and kept under the temporary folder (making the bzip2 one takes a minute).</remarks>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class ParallelDecompressionBenchmarks
{
    private const long TargetBytes = 200_000_000;

    private byte[] _input = null!;
    private readonly byte[] _buffer = new byte[1 << 16];

    [Params("zstd", "bzip2")]
    public string Kind { get; set; } = "zstd";

    private CompressionKind Compressed => Kind == "zstd" ? CompressionKind.Zstd : CompressionKind.Bzip2;

    [GlobalSetup]
    public void Setup()
    {
        string cache = Path.Combine(Path.GetTempPath(), "streamloader-bench", $"python-docs-200mb.jsonl.{(Kind == "zstd" ? "zst" : "bz2")}");
        if (!File.Exists(cache))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
            byte[] plain = Plain();
            int unit = Kind == "zstd" ? 4 << 20 : 900_000;
            var units = new byte[(plain.Length + unit - 1) / unit][];
            Parallel.For(0, units.Length, i => units[i] = Compress(plain.AsSpan(i * unit, Math.Min(unit, plain.Length - (i * unit))).ToArray()));
            File.WriteAllBytes(cache + ".tmp", units.SelectMany(u => u).ToArray());
            File.Move(cache + ".tmp", cache, overwrite: true);
        }
        _input = File.ReadAllBytes(cache);
        Console.WriteLine($"{Kind}: {_input.Length:N0} compressed bytes, {Drain(Compression.Decompress(Compressed, new MemoryStream(_input))):N0} decompressed");
    }

    private static byte[] Plain()
    {
        const string Corpus = "text/python3.11-doc-3.11.2-rst.jsonl.gz";
        string shared = BenchCorpus.Shared(Corpus)
            ?? throw new FileNotFoundException($"../shared/data/{Corpus}: the Python docs corpus is needed to make the 200 MB file.", Corpus);
        using var gzip = new GZipStream(File.OpenRead(shared), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        string[] lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var output = new MemoryStream();
        for (int repeat = 0; output.Length < TargetBytes; repeat++)
        {
            foreach (string line in lines)
            {
                // A fresh id per repeat: '{"id": "…' becomes '{"id": "r7-…'.
                output.Write(System.Text.Encoding.UTF8.GetBytes(line.Replace("{\"id\": \"", $"{{\"id\": \"r{repeat}-", StringComparison.Ordinal) + "\n"));
            }
        }
        return output.ToArray();
    }

    private byte[] Compress(byte[] plain)
    {
        if (Kind == "zstd")
        {
            using var compressor = new ZstdSharp.Compressor(3);
            return compressor.Wrap(plain).ToArray();
        }
        using var output = new MemoryStream();
        using (var bzip = new ICSharpCode.SharpZipLib.BZip2.BZip2OutputStream(output, 9) { IsStreamOwner = false })
        {
            bzip.Write(plain);
        }
        return output.ToArray();
    }

    private long Drain(Stream stream) => DecompressedStreams.Drain(stream, _buffer);

    [Benchmark(Baseline = true)]
    public long OneThread() => Drain(Compression.Decompress(Compressed, new MemoryStream(_input), threads: 1));

    [Benchmark]
    public long TwoThreads() => Drain(Compression.Decompress(Compressed, new MemoryStream(_input), threads: 2));
}
