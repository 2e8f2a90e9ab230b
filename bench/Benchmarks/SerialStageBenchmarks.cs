using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Decoding;
using StreamLoader.Provider.Input;

namespace StreamLoader.Benchmarks;

/// <summary>
/// What one gzip file's serial stage is made of: inflating the file alone (the runtime's zlib, through the provider's
/// checked stream) against the whole serial stage (inflate, split lines, frame them into chunks; no decode), on the
/// 400 MB JSON Lines gzip that <c>scripts/bench-provider.py</c> makes under $BENCH_CORPUS. The ratio is the serial
/// stage's time over inflate's: what framing adds to what no thread count can take off one thread.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class SerialStageBenchmarks
{
    private readonly byte[] _buffer = new byte[1 << 20];
    private string _file = null!;

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Environment.GetEnvironmentVariable("BENCH_CORPUS") ?? "/tmp/streamloader-bench", "py400.jsonl.gz");
        if (!File.Exists(_file))
        {
            throw new FileNotFoundException($"{_file}: make it first with scripts/bench-provider.py 1 jsonl.gz 'x|--ceiling false'", _file);
        }
    }

    [Benchmark(Baseline = true)]
    public long InflateAlone()
    {
        using Stream gzip = Compression.Decompress(CompressionKind.Gzip, new FileStream(_file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan));
        long total = 0;
        int read;
        while ((read = gzip.Read(_buffer)) > 0)
        {
            total += read;
        }
        return total;
    }

    [Benchmark]
    public async Task<long> SerialStage()
    {
        IDocumentSource source = SourceFactory.Create(_file, StreamLoader.Provider.Decoding.SerialStage.Only(new SourceSettings()));
        long records = 0;
        await foreach (Document _ in source.ReadAsync())
        {
            records++;
        }
        return records;
    }
}
