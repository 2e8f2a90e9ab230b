using System.Runtime.CompilerServices;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;

namespace StreamLoader.Transport;

/// <summary>
/// A reader whose first batch was read ahead, so the consumer could learn from it what to build (a device builds its
/// model from the first frame's metadata); the batch is still delivered first.
/// </summary>
public sealed class PeekedBatchReader : IBatchReader
{
    private readonly IBatchReader _inner;
    private readonly IAsyncEnumerator<TensorBatch> _rest;
    private readonly CancellationTokenSource _cancel;
    private TensorBatch? _first;

    private PeekedBatchReader(IBatchReader inner, IAsyncEnumerator<TensorBatch> rest, CancellationTokenSource cancel, TensorBatch first)
    {
        _inner = inner;
        _rest = rest;
        _cancel = cancel;
        _first = first;
    }

    public string Description => _inner.Description;

    /// <summary>The reader the first batch was taken from.</summary>
    public IBatchReader Inner => _inner;

    /// <summary>
    /// Reads the first batch of <paramref name="reader"/>. Returns it (still owned by the returned reader, which
    /// delivers it first) and the reader to use from now on; null and the original reader when the stream is empty.
    /// </summary>
    public static async Task<(TensorBatch? First, IBatchReader Reader)> PeekAsync(IBatchReader reader, CancellationToken cancellationToken)
    {
        // One enumeration serves the peek and the rest of the stream, so it has a token of its own that each caller's cancels.
        var cancel = new CancellationTokenSource();
        IAsyncEnumerator<TensorBatch> batches = reader.ReadAllAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        bool any;
        try
        {
            using (cancellationToken.Register(cancel.Cancel))
            {
                any = await batches.MoveNextAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            await DisposeQuietlyAsync(batches).ConfigureAwait(false);
            cancel.Dispose();
            await reader.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        if (!any)
        {
            await DisposeQuietlyAsync(batches).ConfigureAwait(false);
            cancel.Dispose();
            return (null, reader);
        }
        return (batches.Current, new PeekedBatchReader(reader, batches, cancel, batches.Current));
    }

    public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using CancellationTokenRegistration registration = cancellationToken.Register(_cancel.Cancel);
        if (Interlocked.Exchange(ref _first, null) is { } first)
        {
            yield return first;
        }
        while (await _rest.MoveNextAsync().ConfigureAwait(false))
        {
            yield return _rest.Current;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _first, null)?.Dispose();
        await _cancel.CancelAsync().ConfigureAwait(false);
        await DisposeQuietlyAsync(_rest).ConfigureAwait(false);
        await _inner.DisposeAsync().ConfigureAwait(false);
        _cancel.Dispose();
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<TensorBatch> batches)
    {
        try
        {
            await batches.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The enumeration was cancelled or is ending with its reader.
        }
    }
}
