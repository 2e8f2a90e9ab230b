using System.Text;
using StreamLoader.Provider.Input;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>gzip through the runtime's zlib must still fail on every cut of the input, not end early.</summary>
public sealed class CompressionTests
{
    internal static string Text(int seed, int length)
    {
        var random = new Random(seed);
        var text = new StringBuilder(length);
        while (text.Length < length)
        {
            text.Append(random.Next(0, 5) == 0 ? random.Next(100_000).ToString(System.Globalization.CultureInfo.InvariantCulture) : "word ").Append(random.Next(0, 40) == 0 ? '\n' : ' ');
        }
        return text.ToString(0, length);
    }

    private static async Task<byte[]> DecompressAsync(byte[] gzip, int readSize, bool asynchronous)
    {
        using Stream stream = Compression.Decompress(CompressionKind.Gzip, new MemoryStream(gzip));
        return await ParallelDecompressionTests.ReadAllAsync(stream, readSize, asynchronous);
    }

    public static TheoryData<string, int[]> Layouts => new()
    {
        { "one member", [300_000] },
        { "several members", [120_000, 7, 90_000, 65_536] },
        { "empty and tiny members", [0, 1, 0, 40_000, 0] },
        { "small file", [12] },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Gzip_WholeInput_DecodesEveryMemberExactly(string layout, int[] sizes)
    {
        string[] members = sizes.Select((size, i) => Text(i, size)).ToArray();
        byte[] gzip = TempFiles.Gzip(members);

        foreach (int readSize in new[] { 1 << 16, 4096, 1 << 20 })
        {
            byte[] decoded = await DecompressAsync(gzip, readSize, asynchronous: readSize == 4096);
            Assert.True(Encoding.UTF8.GetBytes(string.Concat(members)).AsSpan().SequenceEqual(decoded), $"{layout}, reads of {readSize}");
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Gzip_CutAnywhereInsideAMember_FailsInsteadOfEndingEarly(string layout, int[] sizes)
    {
        string[] members = sizes.Select((size, i) => Text(i, size)).ToArray();
        byte[] gzip = TempFiles.Gzip(members);
        // Where members end: a cut exactly there is a whole (shorter) stream that no decoder can tell from a complete one.
        var ends = new HashSet<int>();
        int end = 0;
        foreach (string member in members)
        {
            end += TempFiles.Gzip(member).Length;
            ends.Add(end);
        }

        int cuts = 0;
        for (int keep = 1; keep < gzip.Length; keep += Math.Max(1, gzip.Length / 97))
        {
            if (ends.Contains(keep))
            {
                continue;
            }
            cuts++;
            await Assert.ThrowsAnyAsync<Exception>(() => DecompressAsync(gzip[..keep], 1 << 16, asynchronous: keep % 2 == 0));
        }
        Assert.True(cuts > 10, layout);
    }
}
