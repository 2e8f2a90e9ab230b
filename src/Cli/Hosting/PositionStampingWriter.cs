using System.Globalization;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// The loader role's writer: stamps each batch with the stream position at its <c>resume_ordinal</c>
/// (<see cref="BatchMetadataKeys.ResumePosition"/>), so the device in another process can save where the data it trained
/// on ends, and a loader resumed from the device's checkpoint continues there.
/// </summary>
internal sealed class PositionStampingWriter : IBatchWriter
{
    private readonly IBatchWriter _inner;
    private readonly PositionLog _positions;

    public PositionStampingWriter(IBatchWriter inner, PositionLog positions)
    {
        _inner = inner;
        _positions = positions;
    }

    public string Description => _inner.Description;

    /// <summary>The writer the batches go to.</summary>
    public IBatchWriter Inner => _inner;

    public ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default)
    {
        if (batch.Metadata.TryGetValue(BatchMetadataKeys.ResumeOrdinal, out string? text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ordinal))
        {
            batch.Metadata[BatchMetadataKeys.ResumePosition] = _positions.PositionAt(ordinal).ToJson();
        }
        return _inner.WriteAsync(batch, cancellationToken);
    }

    public ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default) => _inner.CompleteAsync(error, cancellationToken);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
