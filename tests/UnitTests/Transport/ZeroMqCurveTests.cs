using System.Text;
using NetMQ;
using NetMQ.Sockets;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.ZeroMq;
using static StreamLoader.Tests.Transport.SmallBatches;

namespace StreamLoader.Tests.Transport;

/// <summary>
/// CURVE on the ZeroMQ transport (docs/WIRE.md, "Authentication and encryption"): with the right keys every batch
/// arrives; without CURVE, or with a wrong loader key, the handshake fails and nothing is sent; with --curve-keys, a
/// consumer that does not prove an authorized key is refused, told why and counted, beside a good one that gets every
/// batch. Key files round-trip in ZeroMQ's certificate format.
/// </summary>
public sealed class ZeroMqCurveTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static ZeroMqOptions Loader(NetMQCertificate server, params NetMQCertificate[] authorized) => new()
    {
        PeerTimeout = TimeSpan.FromSeconds(20),
        Curve = new ZeroMqCurve(server, AuthorizedConsumers: authorized.Length == 0 ? null : authorized.Select(c => c.PublicKeyZ85).ToHashSet(StringComparer.Ordinal)),
    };

    private static ZeroMqOptions Device(NetMQCertificate serverPublic, NetMQCertificate? client = null, double timeout = 20) => new()
    {
        PeerTimeout = TimeSpan.FromSeconds(timeout),
        Curve = new ZeroMqCurve(NetMQCertificate.FromPublicKey(serverPublic.PublicKey), client),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RightKeys_EveryBatchArrives(bool authorizedOnly)
    {
        var server = new NetMQCertificate();
        var client = new NetMQCertificate();
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", authorizedOnly ? Loader(server, client) : Loader(server));
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, options: Device(server, authorizedOnly ? client : null));
        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 30);

        await WriteAllAsync(writer, 20).WaitAsync(Wait);
        List<TensorBatch> batches = await reading;

        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.Equal((1, 0, 0), (writer.Report.Consumers, writer.Report.Refused, writer.Report.Unauthorized));
        batches.ForEach(b => b.Dispose());
    }

    /// <summary>A consumer without CURVE, or with another loader's key, never completes the handshake: it is sent nothing and says why it heard no loader.</summary>
    [Theory]
    [InlineData("no CURVE")]
    [InlineData("wrong loader key")]
    public async Task NoCurveOrAWrongLoaderKey_NothingIsSent_TheConsumerSaysWhy(string consumer)
    {
        var server = new NetMQCertificate();
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Loader(server));
        ZeroMqOptions options = consumer == "no CURVE" ? new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(1.5) } : Device(new NetMQCertificate(), timeout: 1.5);
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, options: options);
        Task writing = writer.WriteAsync(Batch(0)).AsTask();

        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 30));

        Assert.Contains("no loader answered", error.Message, StringComparison.Ordinal);
        Assert.Contains(consumer == "no CURVE" ? "without CURVE" : "with this --curve-server-key", error.Message, StringComparison.Ordinal);
        Assert.Equal((0, 0L), (writer.Consumers, writer.Report.Sent - writer.Settled.Unsent));
        await writer.CompleteAsync(new OperationCanceledException("test over"));
        _ = writing;
    }

    [Theory]
    [InlineData("no key", "carried no key and proof")]
    [InlineData("unknown key", "not among this loader's authorized keys")]
    public async Task AnUnauthorizedConsumer_IsRefusedAndCounted_TheGoodOneGetsEveryBatch(string consumer, string expected)
    {
        var server = new NetMQCertificate();
        var good = new NetMQCertificate();
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Loader(server, good) with { ExpectConsumers = 1 });
        await using var stranger = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, options: Device(server, consumer == "no key" ? null : new NetMQCertificate()));
        IOException refused = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(stranger.ReadAllAsync(), timeoutSeconds: 30));
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.Equal((0, 1, 1), (writer.Consumers, writer.Report.Refused, writer.Report.Unauthorized));

        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, options: Device(server, good));
        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 30);
        await WriteAllAsync(writer, 10).WaitAsync(Wait);
        List<TensorBatch> batches = await reading;
        Assert.Equal(10, batches.Count);
        Assert.Null(writer.Report.Unbalanced());
        batches.ForEach(b => b.Dispose());
    }

    /// <summary>A peer that names an authorized key without holding its secret half: the proof does not open, it is refused.</summary>
    [Fact]
    public async Task AnAuthorizedKeyWithoutItsSecret_IsRefused()
    {
        var server = new NetMQCertificate();
        var victim = new NetMQCertificate();
        var thief = new NetMQCertificate();
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Loader(server, victim));
        using var socket = new DealerSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Options.CurveServerKey = server.PublicKey;
        socket.Options.CurveCertificate = thief;
        socket.Connect(writer.BoundEndpoint);
        var hello = new NetMQMessage();
        foreach (string frame in new[] { "HELLO", "2", "3", "thief", string.Empty, victim.PublicKeyZ85 })
        {
            hello.Append(frame, Encoding.ASCII);
        }
        hello.Append(ZeroMqCurve.Prove(thief, server.PublicKey)); // made with the thief's secret, not the victim's
        socket.SendMultipartMessage(hello);

        var reply = new NetMQMessage();
        Assert.True(socket.TryReceiveMultipartMessage(Wait, ref reply));

        Assert.Contains("does not verify", Encoding.UTF8.GetString(reply[0].ToByteArray()), StringComparison.Ordinal);
        Assert.Equal((0, 1), (writer.Consumers, writer.Report.Unauthorized));
    }

    [Fact]
    public void KeyFiles_RoundTrip_AreNeverOverwritten_AndTheSecretIsTheOwnersOnly()
    {
        using var files = new TempFiles();
        (string publicFile, string secretFile) = CurveCertificateFile.Write(files.Folder, "loader");

        NetMQCertificate pair = CurveCertificateFile.Read(secretFile);
        NetMQCertificate shared = CurveCertificateFile.Read(publicFile);

        Assert.True(pair.HasSecretKey);
        Assert.False(shared.HasSecretKey);
        Assert.Equal(pair.PublicKeyZ85, shared.PublicKeyZ85);
        Assert.Equal(NetMQCertificate.CreateFromSecretKey(pair.SecretKey!).PublicKeyZ85, pair.PublicKeyZ85);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretFile));
        }
        Assert.Throws<IOException>(() => CurveCertificateFile.Write(files.Folder, "loader"));
        Assert.Equal([shared.PublicKeyZ85], CurveCertificateFile.ReadFolder(files.Folder));
    }

    [Theory]
    [InlineData("metadata\ncurve\n    public-key = \"short\"\n", "line 3: public-key must be 40 Z85 characters")]
    [InlineData("# nothing here\n", "no public-key or secret-key line")]
    [InlineData("curve\n    public-key = \"0123456789012345678901234567890123456789\"\n    secret-key = \"~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\"\n", "line 3: secret-key must be 40 Z85 characters")]
    public void AMalformedKeyFile_IsAnErrorNamingTheFileAndLine(string text, string expected)
    {
        using var files = new TempFiles();
        string path = files.WriteText("bad.key", text);

        FormatException error = Assert.Throws<FormatException>(() => CurveCertificateFile.Read(path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
