using System.IO.Compression;
using System.Text;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Input;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>The head an input reads ahead for detection is rented for the input's life and replayed without a copy.</summary>
public sealed class OpenedInputTests
{
    private static byte[] Content(int seed, int length)
    {
        var random = new Random(seed);
        var text = new StringBuilder(length);
        while (text.Length < length)
        {
            text.Append("{\"id\":").Append(random.Next()).Append(",\"text\":\"word ").Append(random.Next(1000)).Append("\"}\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString(0, length));
    }

    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(content);
        }
        return output.ToArray();
    }

    [Theory]
    [InlineData(100, false)]
    [InlineData(200_000, false)]
    [InlineData(200_000, true)]
    public async Task OpenAsync_HeadAndContent_AreTheFilesBytesInOrder(int length, bool gzip)
    {
        using var files = new TempFiles();
        byte[] content = Content(length, length);
        string path = files.WriteBytes(gzip ? "data.jsonl.gz" : "data.jsonl", gzip ? Gzip(content) : content);

        OpenedInput input = await OpenedInput.OpenAsync(path);
        byte[] head = input.Head.ToArray();
        using var read = new MemoryStream();
        await input.Content.CopyToAsync(read);
        input.Dispose();

        Assert.Equal(content.AsSpan(0, Math.Min(length, OpenedInput.HeadBytes)).ToArray(), head);
        Assert.Equal(content, read.ToArray());
        Assert.True(input.Head.IsEmpty, "the head's array went back to the pool; Head must not still point at it");
    }

    [Fact]
    public async Task Probe_Head_OutlivesTheInputAndThePoolsNextUsers()
    {
        using var files = new TempFiles();
        byte[] first = Content(1, 100_000);
        string path = files.WriteBytes("first.jsonl", first);
        SourceProbe probe = SourceCatalog.Probe(path, new SourceSettings(), http: null);

        // The pool's next users overwrite the array the probe's input gave back: whatever rents that size next (the
        // input returns its head to HandOffArrayPool), then other inputs.
        byte[][] scribbled = Enumerable.Range(0, 4).Select(_ => StreamLoader.Core.Buffers.HandOffArrayPool.Rent<byte>(OpenedInput.HeadBytes)).ToArray();
        foreach (byte[] array in scribbled)
        {
            array.AsSpan().Fill(0xFF);
            StreamLoader.Core.Buffers.HandOffArrayPool.Return(array);
        }
        for (int i = 0; i < 8; i++)
        {
            string other = files.WriteBytes($"other{i}.jsonl", Content(100 + i, 100_000));
            using OpenedInput input = await OpenedInput.OpenAsync(other);
            await input.Content.CopyToAsync(Stream.Null);
        }

        Assert.Equal(first.AsSpan(0, OpenedInput.HeadBytes).ToArray(), probe.Head.ToArray());
    }
}
