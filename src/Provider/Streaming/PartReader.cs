using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.Streaming;

/// <summary>
/// Opens the parts of a partitioned source (the files of a set, the row groups of a Parquet file) in a given order and
/// reads up to <c>atOnce</c> at once, each on a reader of its own into a small bounded buffer: the parts the consumer
/// opens, and after them the next parts, read ahead. A part opened while that many are being read is read on the
/// consumer's thread, so a consumer that holds more parts open than that (<see cref="PartInterleave"/>) uses no more
/// threads than the limit allows. What a part yields, and in what order,
/// is what reading it alone gives; how the consumer takes from the parts it holds (one whole part after another, or
/// in turns, <see cref="PartInterleave"/>) is its own.
/// </summary>
/// <remarks>
/// With one part at a time there are no readers: each part is read on the consumer's thread when it is opened. The
/// first part opened starts alone, and reading ahead begins once it has handed on its first document, so that reading
/// ahead does not delay the first batch. A part that fails hands its error on at its end, when the consumer has taken
/// what it read before the failure. Disposing cancels the parts still being read and waits for them, so no read
/// outlives the reader. One consumer at a time: opening parts and taking their documents is not thread-safe.
/// </remarks>
internal sealed class PartReader : IAsyncDisposable
{
    /// <summary>Most documents each part read ahead holds before its reader waits.</summary>
    private const int BufferedDocuments = 4096;

    /// <summary>Most characters of text each part read ahead holds before its reader waits (one document is always let through).</summary>
    private const long BufferedChars = 4L << 20;

    private readonly IPartitionedSource _source;
    private readonly IReadOnlyList<int> _order;
    private readonly int _atOnce;
    private readonly CancellationTokenSource _stop;

    // Parts started (reading on their own), by their index in the order, until they are drained or the reader is disposed.
    private readonly Dictionary<int, (PartBuffer Buffer, Task Reader)> _started = [];
    private int _nextStart;
    private int _nextOpen;
    private bool _readAhead;
    private bool _disposed;

    /// <param name="source">The parts' source; its parts must be readable concurrently when <paramref name="atOnce"/> is more than 1.</param>
    /// <param name="order">The parts in the order they will be opened.</param>
    /// <param name="atOnce">Parts read at once on readers of their own; 1 or less reads each part on the consumer's thread.</param>
    /// <param name="cancellationToken">Stops every read.</param>
    public PartReader(IPartitionedSource source, IReadOnlyList<int> order, int atOnce, CancellationToken cancellationToken)
    {
        _source = source;
        _order = order;
        _atOnce = atOnce;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>
    /// Every document of <paramref name="source"/>: its parts in index order, each whole, up to
    /// <see cref="IPartitionedSource.PartsAtOnce"/> read at once (a partitioned source's own <c>ReadAsync</c>).
    /// </summary>
    public static async IAsyncEnumerable<Document> ReadAllAsync(IPartitionedSource source, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        int[] order = Enumerable.Range(0, source.PartitionCount).ToArray();
        await using var reader = new PartReader(source, order, source.PartsAtOnce, cancellationToken);
        foreach (int part in order)
        {
            await foreach (Document document in reader.Open(part).ConfigureAwait(false))
            {
                yield return document;
            }
        }
    }

    /// <summary>
    /// Opens the next part of the order, which must be <paramref name="part"/>: its documents, then its reader's error,
    /// if any. Enumerate them once.
    /// </summary>
    public IAsyncEnumerable<Document> Open(int part)
    {
        if (_nextOpen >= _order.Count || _order[_nextOpen] != part)
        {
            throw new InvalidOperationException($"{_source.Description}: part {part} was opened out of the read's order (expected {(_nextOpen < _order.Count ? _order[_nextOpen] : "none")}).");
        }
        int index = _nextOpen++;
        if (index < _nextStart)
        {
            // Read ahead already.
            return DrainAsync(index, _stop.Token);
        }
        if (_atOnce <= 1 || _started.Count >= _atOnce)
        {
            // As many parts as allowed have readers of their own: this one is read on the consumer's thread.
            _nextStart = index + 1;
            return _source.ReadPartitionAsync(part, _stop.Token);
        }
        Start();
        return DrainAsync(index, _stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach ((PartBuffer buffer, Task reader) in _started.Values)
        {
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Stopped, or a part the consumer did not reach failed: not the read's error.
            }
            buffer.Dispose();
        }
        _started.Clear();
        _stop.Dispose();
    }

    /// <summary>Starts the next part of the order on a reader of its own.</summary>
    private void Start()
    {
        int part = _order[_nextStart];
        var buffer = new PartBuffer();
        CancellationToken stop = _stop.Token;
        _started[_nextStart++] = (buffer, Task.Run(() => ReadIntoAsync(_source, part, buffer, stop), CancellationToken.None));
    }

    /// <summary>Starts parts ahead of the consumer while fewer than the limit are being read, once reading ahead is allowed.</summary>
    private void ReadAhead()
    {
        while (_readAhead && _started.Count < _atOnce && _nextStart < _order.Count)
        {
            Start();
        }
    }

    /// <summary>A part's documents as its reader buffered them, then its reader's error, if any, before the part ends.</summary>
    private async IAsyncEnumerable<Document> DrainAsync(int index, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        (PartBuffer buffer, Task reader) = _started[index];
        try
        {
            await foreach (Document document in buffer.Documents.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                buffer.Taken(document);
                if (!_readAhead)
                {
                    _readAhead = true;
                    ReadAhead();
                }
                yield return document;
            }
            await reader.ConfigureAwait(false);
        }
        finally
        {
            // A part left before its end keeps reading until the reader is disposed, which stops and awaits it. Only a
            // part read to its end makes room for reading ahead: a failure or a stop starts nothing new.
            if (!_disposed && reader.IsCompleted)
            {
                _started.Remove(index);
                buffer.Dispose();
                if (reader.IsCompletedSuccessfully && !_stop.IsCancellationRequested)
                {
                    _readAhead = true;
                    ReadAhead();
                }
            }
        }
    }

    private static async Task ReadIntoAsync(IPartitionedSource source, int part, PartBuffer buffer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (Document document in source.ReadPartitionAsync(part, cancellationToken).ConfigureAwait(false))
            {
                await buffer.PutAsync(document, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // The consumer's drain ends here, then awaits this task for the error, if any.
            buffer.Documents.Writer.TryComplete();
        }
    }

    /// <summary>One part's documents read ahead, bounded by count and by characters of text.</summary>
    private sealed class PartBuffer : IDisposable
    {
        private readonly SemaphoreSlim _space = new(0);
        private long _chars;

        public Channel<Document> Documents { get; } = Channel.CreateBounded<Document>(new BoundedChannelOptions(BufferedDocuments) { SingleReader = true, SingleWriter = true });

        public async ValueTask PutAsync(Document document, CancellationToken cancellationToken)
        {
            long size = Math.Max(1, document.Length);
            while (Interlocked.Read(ref _chars) is > 0 and long held && held + size > BufferedChars)
            {
                await _space.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            Interlocked.Add(ref _chars, size);
            await Documents.Writer.WriteAsync(document, cancellationToken).ConfigureAwait(false);
        }

        public void Taken(Document document)
        {
            Interlocked.Add(ref _chars, -Math.Max(1, document.Length));
            if (_space.CurrentCount == 0)
            {
                _space.Release();
            }
        }

        public void Dispose() => _space.Dispose();
    }
}
