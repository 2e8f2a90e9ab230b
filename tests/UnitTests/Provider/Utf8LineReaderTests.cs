using System.Text;
using StreamLoader.Provider.Input;

namespace StreamLoader.Tests.Provider;

public sealed class Utf8LineReaderTests
{
    private static async Task<List<(string Text, long Offset, bool Oversized)>> ReadAll(string content, int maxLine = 1 << 20, int initialBuffer = 16)
    {
        using var reader = new Utf8LineReader(new MemoryStream(Encoding.UTF8.GetBytes(content)), maxLine, initialBuffer);
        var lines = new List<(string, long, bool)>();
        while (await reader.ReadLineAsync())
        {
            lines.Add((Encoding.UTF8.GetString(reader.Line), reader.LineOffset, reader.LineWasOversized));
        }
        return lines;
    }

    [Theory]
    [InlineData("a\nbb\nccc\n", new[] { "a", "bb", "ccc" })]
    [InlineData("a\r\nbb\r\nccc", new[] { "a", "bb", "ccc" })]
    [InlineData("\n\nx", new[] { "", "", "x" })]
    [InlineData("", new string[0])]
    public async Task ReadLineAsync_SplitsLines(string content, string[] expected)
    {
        var lines = await ReadAll(content);
        Assert.Equal(expected, lines.Select(l => l.Text));
    }

    [Fact]
    public async Task ReadLineAsync_LinesLongerThanTheBuffer_AreReassembledWithOffsets()
    {
        string a = new('a', 1000);
        string b = new('b', 70_000);
        var lines = await ReadAll($"{a}\n{b}\nend");

        Assert.Equal([a, b, "end"], lines.Select(l => l.Text));
        Assert.Equal([0L, 1001L, 71_002L], lines.Select(l => l.Offset));
    }

    [Fact]
    public async Task ReadLineAsync_OversizedLine_IsFlaggedAndSkipped()
    {
        string big = new('x', 5000);
        var lines = await ReadAll($"ok\n{big}\nafter\n", maxLine: 1000);

        Assert.Equal(["ok", "", "after"], lines.Select(l => l.Text));
        Assert.Equal([false, true, false], lines.Select(l => l.Oversized));
        Assert.Equal(3, lines[1].Offset);
    }

    [Fact]
    public async Task ReadLineAsync_ByteOrderMarkAtStart_IsSkippedAndOffsetsCountIt()
    {
        var lines = await ReadAll("\uFEFFa\r\nbb\r\nccc");

        Assert.Equal(["a", "bb", "ccc"], lines.Select(l => l.Text));
        Assert.Equal([3L, 6L, 10L], lines.Select(l => l.Offset));
    }

    [Fact]
    public async Task ReadLineAsync_ByteOrderMarkArrivingOneByteAtATime_IsSkipped()
    {
        byte[] content = Encoding.UTF8.GetBytes("\uFEFF{\"id\":1}\n{\"id\":2}\n");
        using var reader = new Utf8LineReader(new OneByteAtATimeStream(content), initialBufferBytes: 16);
        var lines = new List<string>();
        while (await reader.ReadLineAsync())
        {
            lines.Add(Encoding.UTF8.GetString(reader.Line));
        }

        Assert.Equal(["{\"id\":1}", "{\"id\":2}"], lines);
    }

    [Theory]
    [InlineData("a\n\uFEFFb", new[] { "a", "\uFEFFb" })]
    [InlineData("\uFEFF", new string[0])]
    [InlineData("\uFEFF\n", new[] { "" })]
    public async Task ReadLineAsync_ByteOrderMarkAloneOrLater_OnlyTheLeadingOneIsSkipped(string content, string[] expected)
    {
        var lines = await ReadAll(content);
        Assert.Equal(expected, lines.Select(l => l.Text));
    }

    /// <summary>Hands out one byte per read, as a slow network might.</summary>
    private sealed class OneByteAtATimeStream(byte[] content) : MemoryStream(content)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, 1)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, 1)], cancellationToken);
    }
}
