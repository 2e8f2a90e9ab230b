using System.Diagnostics;
using System.Globalization;

namespace StreamLoader.Cli.Reporting;

/// <summary>A moment's view of a run, sampled by the progress display.</summary>
/// <param name="Documents">Documents tokenized.</param>
/// <param name="Tokens">Tokens delivered to this process's end: trained on, taken by bench's sink, or sent by a loader (padding not counted).</param>
/// <param name="Batches">Batches made or taken.</param>
/// <param name="Steps">Optimizer steps this run took.</param>
/// <param name="Loss">The last loss, or NaN.</param>
/// <param name="RawBytes">Bytes of the source read (compressed bytes for a compressed source).</param>
/// <param name="RawTotal">The source's size when known.</param>
/// <param name="DocumentQueue">Documents queued between the provider and the batcher now.</param>
/// <param name="BatchQueue">Batches queued between the batcher and the device now; null when they are in different processes.</param>
/// <param name="Waiting">What the source has been waiting for, and how long (a stalled download), or null.</param>
/// <param name="Rows">Inference: documents written (or filtered out) in input order so far; null for other runs.</param>
public sealed record ProgressSample(
    long Documents,
    long Tokens,
    long Batches,
    long Steps,
    double Loss,
    long RawBytes,
    long? RawTotal,
    int DocumentQueue,
    int? BatchQueue,
    (string What, TimeSpan For)? Waiting = null,
    long? Rows = null);

/// <summary>Shows progress while a run works. Writes to stderr so stdout stays free for frames.</summary>
public interface IProgressView : IAsyncDisposable
{
    /// <summary>Starts sampling <paramref name="sample"/> periodically.</summary>
    void Start(Func<ProgressSample> sample);

    /// <summary>Prints a line above the progress display.</summary>
    void Log(string line);
}

/// <summary>Creates the display the user asked for.</summary>
public static class ProgressViews
{
    public static IProgressView Create(string mode, TextWriter output)
    {
        bool terminal = !Console.IsErrorRedirected;
        return mode.ToLowerInvariant() switch
        {
            "none" => new PlainProgressView(output, interval: null),
            "plain" => new PlainProgressView(output, TimeSpan.FromSeconds(5)),
            "live" => new LiveProgressView(output),
            "auto" => terminal ? new LiveProgressView(output) : new PlainProgressView(output, TimeSpan.FromSeconds(10)),
            _ => throw new ArgumentException($"--progress {mode}: expected auto, live, plain or none."),
        };
    }

    /// <summary>
    /// Samples every <paramref name="interval"/> until cancelled and shows each sample, with rates over the last few
    /// seconds (at least <see cref="RateWindow"/>): work arrives in chunks, and a rate over one short interval would
    /// swing between a burst and 0/s.
    /// </summary>
    public static Task SampleAsync(Func<ProgressSample> sample, TimeSpan interval, Action<string> show, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        var clock = Stopwatch.StartNew();
        var history = new Queue<(double At, ProgressSample Sample)>();
        history.Enqueue((0, sample()));
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                ProgressSample now = sample();
                double elapsed = clock.Elapsed.TotalSeconds;
                // Keep the newest sample that is at least a window old as the base of the rates.
                while (history.Count > 1 && elapsed - history.ElementAt(1).At >= RateWindow.TotalSeconds)
                {
                    history.Dequeue();
                }
                (double at, ProgressSample before) = history.Peek();
                show(Format(now, before, elapsed, elapsed - at));
                history.Enqueue((elapsed, now));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }, CancellationToken.None);

    /// <summary>The span rates are measured over.</summary>
    public static TimeSpan RateWindow { get; } = TimeSpan.FromSeconds(5);

    /// <summary>"00:01:02 | docs 1,234 (56/s) | tokens 1.2M (45.6k/s) | ..." for a sample and one <paramref name="interval"/> seconds before it.</summary>
    public static string Format(ProgressSample now, ProgressSample before, double elapsed, double interval)
    {
        string Per(long a, long b) => Human(interval > 0 ? (a - b) / interval : 0);
        var parts = new List<string>
        {
            $"{TimeSpan.FromSeconds(elapsed):hh\\:mm\\:ss}",
            $"docs {now.Documents:N0} ({Per(now.Documents, before.Documents)}/s)",
            $"tokens {Human(now.Tokens)} ({Per(now.Tokens, before.Tokens)}/s)",
            $"batches {now.Batches:N0}",
        };
        if (now.Steps > 0)
        {
            parts.Add($"steps {now.Steps:N0} ({(interval > 0 ? (now.Steps - before.Steps) / interval : 0):0.0}/s) loss {now.Loss:0.000}");
        }
        if (now.Rows is long rows)
        {
            parts.Add($"rows written {rows:N0} ({Per(rows, before.Rows ?? 0)}/s)");
        }
        if (now.RawTotal is long total && total > 0)
        {
            parts.Add($"read {100.0 * now.RawBytes / total:0.0}% of {Human(total)}B");
        }
        else if (now.RawBytes > 0)
        {
            parts.Add($"read {Human(now.RawBytes)}B");
        }
        parts.Add(now.BatchQueue is int queued ? $"queued {now.DocumentQueue} docs, {queued} batches" : $"queued {now.DocumentQueue} docs");
        if (now.Waiting is { } waiting && waiting.For >= TimeSpan.FromSeconds(1))
        {
            parts.Add($"WAITING {waiting.For.TotalSeconds:0} s for {waiting.What}");
        }
        return string.Join(" | ", parts);
    }

    /// <summary>1234567 as "1.23M".</summary>
    public static string Human(double value)
    {
        string[] units = ["", "k", "M", "G", "T"];
        int unit = 0;
        while (Math.Abs(value) >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }
        return value.ToString(unit == 0 ? "0" : "0.00", CultureInfo.InvariantCulture) + units[unit];
    }
}

/// <summary>A status line rewritten in place on a terminal, with log lines printed above it.</summary>
internal sealed class LiveProgressView : IProgressView
{
    private readonly TextWriter _output;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _disposed;
    private string _status = string.Empty;

    public LiveProgressView(TextWriter output)
    {
        _output = output;
    }

    public void Start(Func<ProgressSample> sample)
    {
        _loop = ProgressViews.SampleAsync(sample, TimeSpan.FromMilliseconds(500), Show, _stop.Token);
    }

    private void Show(string line)
    {
        // A line wider than the terminal wraps, and then "\r" no longer rewrites it in place.
        int width = TerminalWidth();
        if (width > 10 && line.Length >= width)
        {
            line = line[..(width - 2)] + "…";
        }
        lock (_gate)
        {
            _status = line;
            _output.Write("\r\u001b[2K" + line);
            _output.Flush();
        }
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public void Log(string line)
    {
        lock (_gate)
        {
            _output.Write("\r\u001b[2K");
            _output.WriteLine(line);
            if (_status.Length > 0)
            {
                _output.Write(_status);
            }
            _output.Flush();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposed by the run as it ends and again by a caller cleaning up after a failure: the second is a no-op.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        lock (_gate)
        {
            if (_status.Length > 0)
            {
                _output.WriteLine();
            }
        }
        _stop.Dispose();
    }
}

/// <summary>Progress as plain lines at an interval, for logs and CI; or nothing but log lines.</summary>
internal sealed class PlainProgressView : IProgressView
{
    private readonly TextWriter _output;
    private readonly TimeSpan? _interval;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _disposed;

    public PlainProgressView(TextWriter output, TimeSpan? interval)
    {
        _output = output;
        _interval = interval;
    }

    public void Start(Func<ProgressSample> sample)
    {
        if (_interval is not TimeSpan interval)
        {
            return;
        }
        _loop = ProgressViews.SampleAsync(sample, interval, Log, _stop.Token);
    }

    public void Log(string line)
    {
        lock (_output)
        {
            _output.WriteLine(line);
            _output.Flush();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposed by the run as it ends and again by a caller cleaning up after a failure: the second is a no-op.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stop.Dispose();
    }
}
