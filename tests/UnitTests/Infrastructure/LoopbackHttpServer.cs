using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 serving one byte array, with knobs to misbehave: drop the connection after
/// some bytes, ignore Range requests, answer nothing, or stall after the headers or part of the body. Used to test
/// streaming over HTTP without the internet.
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly byte[] _content;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    public LoopbackHttpServer(byte[] content)
    {
        _content = content;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The URL that serves the content.</summary>
    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/{Name}";

    /// <summary>The file name the URL ends in (the server serves the same content whatever is asked).</summary>
    public string Name { get; init; } = "dump.json.gz";

    /// <summary>Close the connection after sending this many body bytes, on the first N requests.</summary>
    public long DropAfterBytes { get; set; } = -1;

    /// <summary>How many requests drop (see <see cref="DropAfterBytes"/>); int.MaxValue drops every one.</summary>
    public int DropRequests { get; set; } = 1;

    /// <summary>Where requests after the first drop (see <see cref="DropAfterBytes"/>); -1 means the same as the first.</summary>
    public long DropLaterAfterBytes { get; set; } = -1;

    /// <summary>From this request (1-based) on, answer with another ETag and Last-Modified, as if the file were replaced; 0 never.</summary>
    public int ChangeFromRequest { get; set; }

    /// <summary>Answer 200 with the whole body even when a Range is asked for.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Accept the connection and read the request, then send nothing and hold the connection open (from request <see cref="MisbehaveFromRequest"/> on).</summary>
    public bool AnswerNothing { get; set; }

    /// <summary>Send the headers and this many body bytes, then send nothing more and hold the connection open (from request <see cref="MisbehaveFromRequest"/> on); -1 never.</summary>
    public long StallAfterBytes { get; set; } = -1;

    /// <summary>The first request (1-based) that <see cref="AnswerNothing"/> and <see cref="StallAfterBytes"/> apply to.</summary>
    public int MisbehaveFromRequest { get; set; } = 1;

    /// <summary>Requests served so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Authorization headers received (their values), in order.</summary>
    public List<string> Authorizations { get; } = [];

    /// <summary>Range headers received, in order.</summary>
    public List<string> Ranges { get; } = [];

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII, false, 1024, leaveOpen: true);
                string? line;
                long start = 0;
                bool ranged = false;
                while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                {
                    if (line.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase))
                    {
                        lock (Authorizations)
                        {
                            Authorizations.Add(line["Authorization:".Length..].Trim());
                        }
                    }
                    if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))
                    {
                        lock (Ranges)
                        {
                            Ranges.Add(line);
                        }
                        string spec = line[(line.IndexOf('=') + 1)..].Trim();
                        start = long.Parse(spec[..spec.IndexOf('-')], CultureInfo.InvariantCulture);
                        ranged = true;
                    }
                }
                int request = Interlocked.Increment(ref _requests);
                bool misbehave = request >= MisbehaveFromRequest;
                if (AnswerNothing && misbehave)
                {
                    await HoldOpenAsync();
                    return;
                }
                if (IgnoreRange)
                {
                    start = 0;
                    ranged = false;
                }
                long length = _content.Length - start;
                string status = ranged ? "206 Partial Content" : "200 OK";
                string headers = $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nETag: \"{(ChangeFromRequest > 0 && request >= ChangeFromRequest ? "v2" : "v1")}\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n";
                if (ranged)
                {
                    headers += $"Content-Range: bytes {start}-{_content.Length - 1}/{_content.Length}\r\n";
                }
                await stream.WriteAsync(Encoding.ASCII.GetBytes(headers + "\r\n"));
                long send = length;
                bool drop = DropAfterBytes >= 0 && request <= DropRequests;
                if (drop)
                {
                    send = Math.Min(send, request > 1 && DropLaterAfterBytes >= 0 ? DropLaterAfterBytes : DropAfterBytes);
                }
                bool stall = StallAfterBytes >= 0 && misbehave;
                if (stall)
                {
                    send = Math.Min(send, StallAfterBytes);
                }
                await stream.WriteAsync(_content.AsMemory((int)start, (int)send));
                await stream.FlushAsync();
                if (stall)
                {
                    await HoldOpenAsync();
                    return;
                }
                if (drop)
                {
                    client.Client.LingerState = new LingerOption(true, 0);
                }
            }
            catch (IOException)
            {
            }
            catch (SocketException)
            {
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Keeps the connection open, sending nothing, until the server is disposed.</summary>
    private Task HoldOpenAsync() => Task.Delay(Timeout.Infinite, _stop.Token);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch
        {
        }
        _stop.Dispose();
    }
}
