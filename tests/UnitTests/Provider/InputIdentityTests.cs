using StreamLoader.Provider.Input;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

public sealed class InputIdentityTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(64 << 10)]
    [InlineData((64 << 10) + 1)]
    [InlineData(300_000)]
    public void Describe_SameBytesUnderOtherNames_AreEqual(int length)
    {
        using var files = new TempFiles();
        byte[] content = new byte[length];
        new Random(length).NextBytes(content);
        string path = files.WriteBytes("a.bin", content);
        string copy = files.WriteBytes("b.bin", content);
        string link = files.Path("link.bin");
        File.CreateSymbolicLink(link, path);

        string identity = InputIdentity.Describe(path);

        Assert.StartsWith($"file:{length}:", identity, StringComparison.Ordinal);
        Assert.Equal(identity, InputIdentity.Describe(copy));
        Assert.Equal(identity, InputIdentity.Describe(link));
        Assert.Equal(identity, InputIdentity.Describe(Path.GetRelativePath(Environment.CurrentDirectory, path)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(299_999)]
    public void Describe_ChangedHeadOrTail_Differs(int changedByte)
    {
        using var files = new TempFiles();
        byte[] content = new byte[300_000];
        string before = InputIdentity.Describe(files.WriteBytes("a.bin", content));
        content[changedByte] = 1;

        Assert.NotEqual(before, InputIdentity.Describe(files.WriteBytes("a.bin", content)));
    }

    [Fact]
    public void Describe_Url_IsTheNormalizedUrl()
    {
        Assert.Equal("http://example.org/dump%20one.json.gz", InputIdentity.Describe("HTTP://Example.org:80/dump one.json.gz"));
    }

    [Fact]
    public void Describe_MissingFile_FailsNamingIt()
    {
        FileNotFoundException error = Assert.Throws<FileNotFoundException>(() => InputIdentity.Describe("/nonexistent/data.jsonl"));
        Assert.Contains("/nonexistent/data.jsonl", error.Message, StringComparison.Ordinal);
    }
}
