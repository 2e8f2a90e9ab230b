using System.Text;
using StreamLoader.Provider.Input;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// zstd frames and bzip2 streams decompressed several at once give exactly the serial decoder's bytes, fail where it
/// fails (a cut-off input, bytes that are no unit), and fall back to it for a unit too long to hold.
/// </summary>
public sealed class ParallelDecompressionTests
{
    private static string Text(int seed, int length) => CompressionTests.Text(seed, length);

    /// <summary>Units of the given sizes, each compressed on its own and concatenated (as pzstd and pbzip2 write).</summary>
    internal static (byte[] Compressed, byte[] Plain) Units(CompressionKind kind, int[] sizes)
    {
        var compressed = new List<byte>();
        var plain = new List<byte>();
        for (int i = 0; i < sizes.Length; i++)
        {
            string text = Text(i, sizes[i]);
            plain.AddRange(Encoding.UTF8.GetBytes(text));
            compressed.AddRange(kind == CompressionKind.Zstd ? Compress.Zstd(text) : Compress.Bzip2(text));
        }
        return ([.. compressed], [.. plain]);
    }

    /// <summary>Everything <paramref name="stream"/> gives, read <paramref name="readSize"/> bytes at a time.</summary>
    internal static async Task<byte[]> ReadAllAsync(Stream stream, int readSize, bool asynchronous)
    {
        using var output = new MemoryStream();
        var buffer = new byte[readSize];
        int read;
        while ((read = asynchronous ? await stream.ReadAsync(buffer) : stream.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    public static TheoryData<CompressionKind, int[], int, bool> Layouts => new()
    {
        { CompressionKind.Zstd, [200_000, 3, 150_000, 0, 70_000, 90_000, 1], 2, false },
        { CompressionKind.Zstd, [50_000, 60_000, 70_000, 80_000, 90_000, 100_000, 110_000], 3, true },
        { CompressionKind.Bzip2, [200_000, 3, 150_000, 0, 70_000, 90_000, 1], 2, true },
        { CompressionKind.Bzip2, [1_000_000, 20_000, 400_000], 3, false },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task ManyUnits_SameBytesAsTheSerialDecoder(CompressionKind kind, int[] sizes, int threads, bool asynchronous)
    {
        (byte[] compressed, byte[] plain) = Units(kind, sizes);

        using Stream serial = Compression.Decompress(kind, new MemoryStream(compressed));
        using Stream parallel = Compression.Decompress(kind, new MemoryStream(compressed), threads);

        Assert.IsType<ParallelUnitStream>(parallel);
        Assert.Equal(plain, await ReadAllAsync(serial, 50_000, asynchronous));
        Assert.Equal(plain, await ReadAllAsync(parallel, 7_777, asynchronous));
        Assert.Equal(sizes.Length, ((ParallelUnitStream)parallel).UnitsDecoded);
    }

    [Theory]
    [InlineData(CompressionKind.Zstd)]
    [InlineData(CompressionKind.Bzip2)]
    public async Task UnitLongerThanTheLimit_TheRestIsDecodedSerially(CompressionKind kind)
    {
        int[] sizes = [30_000, 40_000, 900_000, 20_000, 10_000];
        (byte[] compressed, byte[] plain) = Units(kind, sizes);
        int[] unitBytes = sizes.Select(size => Units(kind, [size]).Compressed.Length).ToArray();
        int most = unitBytes[2] / 2;
        Assert.All(unitBytes.Where((_, i) => i != 2), length => Assert.True(length < most, $"{length} vs {most}"));
        Func<Stream, Stream> decoder = unit => Compression.Decompress(kind, unit);
        UnitSplitter splitter = kind == CompressionKind.Zstd ? new ZstdFrameSplitter(new MemoryStream(compressed)) : new Bzip2StreamSplitter(new MemoryStream(compressed));

        using var parallel = new ParallelUnitStream(splitter, decoder, threads: 2, mostUnitBytes: most);

        Assert.Equal(plain, await ReadAllAsync(parallel, 10_000, asynchronous: true));
        // The two units before the long one were decoded on the workers; from there on, serially.
        Assert.Equal(2, parallel.UnitsDecoded);
    }

    [Theory]
    [InlineData(CompressionKind.Zstd)]
    [InlineData(CompressionKind.Bzip2)]
    public async Task CutAnywhere_FailsLikeTheSerialDecoderInsteadOfEndingEarly(CompressionKind kind)
    {
        (byte[] compressed, byte[] plain) = Units(kind, [100_000, 80_000, 120_000]);
        foreach (int cut in new[] { compressed.Length - 1, compressed.Length - 9, compressed.Length * 2 / 3, compressed.Length / 3, 7 })
        {
            using Stream parallel = Compression.Decompress(kind, new MemoryStream(compressed[..cut]), threads: 2);
            Exception error = await Assert.ThrowsAnyAsync<Exception>(() => ReadAllAsync(parallel, 8192, asynchronous: true));
            Assert.True(error is InvalidDataException or EndOfStreamException or IOException, $"cut at {cut}: {error.GetType().Name}: {error.Message}");
        }
    }

    [Theory]
    [InlineData(CompressionKind.Zstd)]
    [InlineData(CompressionKind.Bzip2)]
    public void CutInsideALaterUnit_TheUnitsBeforeItAreHandedOnFirst(CompressionKind kind)
    {
        int[] sizes = [60_000, 60_000, 60_000, 60_000, 60_000];
        (byte[] compressed, byte[] plain) = Units(kind, sizes);
        int lastUnit = Units(kind, [sizes[^1]]).Compressed.Length;
        byte[] cut = compressed[..(compressed.Length - (lastUnit / 2))];

        using Stream parallel = Compression.Decompress(kind, new MemoryStream(cut), threads: 3);
        using var output = new MemoryStream();
        var buffer = new byte[5000];
        Exception? error = null;
        try
        {
            int read;
            while ((read = parallel.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
        {
            error = ex;
        }

        Assert.NotNull(error);
        // The first four units are whole: their bytes all come before the failure.
        int whole = sizes[..4].Sum();
        Assert.True(output.Length >= whole, $"{output.Length:N0} bytes before the failure, of {whole:N0} in the whole units");
        Assert.Equal(plain[..whole], output.ToArray()[..whole]);
    }

    [Fact]
    public async Task Bzip2_GarbageBetweenStreams_Fails()
    {
        (byte[] compressed, _) = Units(CompressionKind.Bzip2, [50_000, 50_000]);
        byte[] first = Compress.Bzip2(Text(0, 50_000));
        byte[] broken = [.. first, .. "junk"u8.ToArray(), .. compressed[first.Length..]];

        using Stream parallel = Compression.Decompress(CompressionKind.Bzip2, new MemoryStream(broken), threads: 2);

        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(parallel, 8192, asynchronous: false));
    }

    [Fact]
    public async Task Zstd_SkippableFrames_AreDroppedAsTheDecoderDropsThem()
    {
        byte[] skippable = [0x50, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5];
        byte[] a = Compress.Zstd(Text(1, 40_000));
        byte[] b = Compress.Zstd(Text(2, 40_000));
        byte[] input = [.. skippable, .. a, .. skippable, .. b];

        using Stream serial = Compression.Decompress(CompressionKind.Zstd, new MemoryStream(input));
        using Stream parallel = Compression.Decompress(CompressionKind.Zstd, new MemoryStream(input), threads: 2);

        Assert.Equal(await ReadAllAsync(serial, 4096, asynchronous: true), await ReadAllAsync(parallel, 4096, asynchronous: true));
    }

    [Fact]
    public void StoppedEarly_DisposeWaitsForTheUnitsInFlight()
    {
        (byte[] compressed, _) = Units(CompressionKind.Bzip2, [100_000, 100_000, 100_000, 100_000, 100_000]);
        var parallel = Compression.Decompress(CompressionKind.Bzip2, new MemoryStream(compressed), threads: 3);
        var buffer = new byte[1000];
        Assert.Equal(1000, parallel.Read(buffer));

        parallel.Dispose();

        Assert.Throws<ObjectDisposedException>(() => parallel.Read(buffer));
    }
}
