using StreamLoader.Transport.Catalog;

namespace StreamLoader.Tests.Transport;

/// <summary>Transports register like source formats and tokenizer families: the kind surest of a location opens it.</summary>
public sealed class TransportCatalogTests
{
    [Theory]
    [InlineData("tcp://127.0.0.1:5555", "zeromq")]
    [InlineData("tcp://*:5555", "zeromq")]
    [InlineData("ipc:///tmp/sl.ipc", "zeromq")]
    [InlineData("inproc://loader", "zeromq")]
    [InlineData("unix:/tmp/sl.sock", "unix")]
    [InlineData("-", "pipe")]
    [InlineData("batches.frames", "file")]
    [InlineData("/data/run/tcp-batches.frames", "file")]
    public void Resolve_TheLocationChoosesTheKind(string location, string kind) =>
        Assert.Equal(kind, TransportCatalog.Default.Resolve(location).Name);

    [Fact]
    public void OnlyTheUnixSocket_SaysItsWriterWaits()
    {
        Assert.Equal("loader: waiting for the reader to connect to unix:/tmp/s ...", TransportCatalog.Default.Resolve("unix:/tmp/s").WriterWaits("unix:/tmp/s"));
        Assert.Null(TransportCatalog.Default.Resolve("tcp://*:1").WriterWaits("tcp://*:1"));
    }

    [Fact]
    public async Task AMissingFrameFile_IsNamed()
    {
        FileNotFoundException error = await Assert.ThrowsAsync<FileNotFoundException>(() => TransportCatalog.Default.OpenReaderAsync("/nonexistent/batches.frames"));
        Assert.Contains("/nonexistent/batches.frames: no such frame file", error.Message, StringComparison.Ordinal);
    }
}
