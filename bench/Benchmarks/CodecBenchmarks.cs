using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Tensors;
using StreamLoader.Provider.Input;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Benchmarks;

/// <summary>
/// The wire frame alone, without a transport: one 32 × 512 MLM batch (input_ids, attention_mask, labels as int64,
/// source_part and source_ordinal: 393 KB) encoded into a reused buffer, and a frame decoded back into a pooled batch.
/// </summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private TensorBatch _batch = null!;
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);
    private byte[] _frame = null!;

    [GlobalSetup]
    public void Setup()
    {
        _batch = new TensorBatch("mlm", 7) { RowCount = 32, TokenCount = 32 * 512 };
        int[] shape = [32, 512];
        _batch.Add("input_ids", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(2023);
        _batch.Add("attention_mask", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(1);
        _batch.Add("labels", TensorDType.I64, shape, clear: false).AsSpan<long>().Fill(-100);
        _batch.Add("source_part", TensorDType.I64, [32]);
        _batch.Add("source_ordinal", TensorDType.I64, [32], clear: false).AsSpan<long>().Fill(5);
        foreach ((string key, string value) in new[] { ("seq_len", "512"), ("mask_probability", "0.15"), ("masked_positions", "2458"), ("resume_ordinal", "123456"), ("resume_offset", "0"), ("tokenizer", "wordpiece:bert-base-uncased-vocab.txt"), ("vocab_size", "30522") })
        {
            _batch.Metadata[key] = value;
        }
        TensorFrame.Write(_batch, _output);
        _frame = _output.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int Encode()
    {
        _output.ResetWrittenCount();
        TensorFrame.Write(_batch, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public long Decode()
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(_frame);
        TensorFrame.Header header = TensorFrame.ParseHeader(_frame.AsSpan(8, headerLength), "benchmark");
        using TensorBatch batch = TensorFrame.ToBatch(header, _frame.AsSpan(8 + headerLength));
        return batch.TokenCount;
    }

    /// <summary>The header alone, without copying the tensors into a batch: what parsing costs apart from the batch's own objects.</summary>
    [Benchmark]
    public int ParseOnly()
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(_frame);
        return TensorFrame.ParseHeader(_frame.AsSpan(8, headerLength), "benchmark").Tensors.Count;
    }

    [GlobalCleanup]
    public void Cleanup() => _batch.Dispose();
}

/// <summary>
/// Decompression alone: the benchmark corpus as JSON Lines (2.3 MB), gzip through the runtime's zlib with the
/// truncation check (what the provider uses), against SharpZipLib's managed inflater (what it used before); zstd and
/// bzip2 as the provider reads them. MB/s is decompressed bytes over the mean.
/// </summary>
[MemoryDiagnoser]
public class DecompressionBenchmarks
{
    private byte[] _gzip = null!;
    private byte[] _zstd = null!;
    private byte[] _bzip2 = null!;
    private readonly byte[] _buffer = new byte[1 << 16];

    [GlobalSetup]
    public void Setup()
    {
        byte[] jsonl = System.Text.Encoding.UTF8.GetBytes(string.Concat(BenchCorpus.Documents.Select(d => System.Text.Json.JsonSerializer.Serialize(new { id = d.Id, text = d.Text }) + "\n")));
        using (var gz = new MemoryStream())
        {
            using (var writer = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
            {
                writer.Write(jsonl);
            }
            _gzip = gz.ToArray();
        }
        using (var compressor = new ZstdSharp.Compressor(3))
        {
            _zstd = compressor.Wrap(jsonl).ToArray();
        }
        using (var bz = new MemoryStream())
        {
            using (var writer = new ICSharpCode.SharpZipLib.BZip2.BZip2OutputStream(bz) { IsStreamOwner = false })
            {
                writer.Write(jsonl);
            }
            _bzip2 = bz.ToArray();
        }
    }

    private long Drain(Stream stream) => DecompressedStreams.Drain(stream, _buffer);

    [Benchmark(Baseline = true)]
    public long GzipSharpZipLib() => Drain(new ICSharpCode.SharpZipLib.GZip.GZipInputStream(new MemoryStream(_gzip), 1 << 16));

    [Benchmark]
    public long GzipProvider() => Drain(Compression.Decompress(CompressionKind.Gzip, new MemoryStream(_gzip)));

    [Benchmark]
    public long ZstdProvider() => Drain(Compression.Decompress(CompressionKind.Zstd, new MemoryStream(_zstd)));

    [Benchmark]
    public long Bzip2Provider() => Drain(Compression.Decompress(CompressionKind.Bzip2, new MemoryStream(_bzip2)));
}

/// <summary>Reading a decompressing stream to its end, for the decompression benchmarks.</summary>
internal static class DecompressedStreams
{
    /// <summary>Reads <paramref name="stream"/> to its end through <paramref name="buffer"/>, disposes it, and returns the bytes read.</summary>
    public static long Drain(Stream stream, byte[] buffer)
    {
        long total = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            total += read;
        }
        stream.Dispose();
        return total;
    }
}
