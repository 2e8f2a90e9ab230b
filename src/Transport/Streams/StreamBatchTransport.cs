using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Storage;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Transport.Framing;

namespace StreamLoader.Transport.Streams;

/// <summary>Sends batches as <see cref="TensorFrame"/>s over a byte stream: a pipe (stdout), a Unix socket or a file.</summary>
/// <remarks>The operating system's pipe or socket buffer provides the back-pressure: a slow reader blocks the writer.</remarks>
public sealed class StreamBatchWriter : IBatchWriter
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ArrayBufferWriter<byte> _frame = new(1 << 20);
    private long _batches;
    private bool _completed;

    /// <param name="stream">
    /// Where the frames go. A failed write is a reader that left (a closed pipe or socket: the stream ends early),
    /// unless the stream says it is an output that failed (<see cref="OutputWriteException"/>, as a file does).
    /// </param>
    /// <param name="description">The location, for messages.</param>
    /// <param name="leaveOpen">Leave the stream open when disposed.</param>
    public StreamBatchWriter(Stream stream, string description, bool leaveOpen = false)
    {
        _stream = stream;
        Description = description;
        _leaveOpen = leaveOpen;
    }

    public string Description { get; }

    /// <summary>Batches written so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Bytes written so far.</summary>
    public long Bytes { get; private set; }

    public async ValueTask WriteAsync(TensorBatch batch, CancellationToken cancellationToken = default)
    {
        using (batch)
        {
            _frame.ResetWrittenCount();
            TensorFrame.Write(batch, _frame);
        }
        try
        {
            await _stream.WriteAsync(_frame.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (ex is not OutputWriteException)
        {
            throw new ReaderClosedException($"{Description}: the reader closed the stream after {Batches} batches ({ex.Message}).", ex);
        }
        Bytes += _frame.WrittenCount;
        Interlocked.Increment(ref _batches);
    }

    public async ValueTask CompleteAsync(Exception? error = null, CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        _frame.ResetWrittenCount();
        TensorFrame.WriteEnd(Batches, error?.Message, _frame);
        try
        {
            await _stream.WriteAsync(_frame.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (error is not null)
        {
            // The reader is gone, or the file cannot take more; the original error is what matters.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_leaveOpen)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Reads <see cref="TensorFrame"/>s from a byte stream until the end frame.</summary>
/// <remarks>
/// A stream that ends without an end frame means the sender died: that is an error naming how many batches arrived,
/// never a silent early end. An error frame rethrows the sender's message.
/// </remarks>
public sealed class StreamBatchReader : IBatchReader
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;

    public StreamBatchReader(Stream stream, string description, bool leaveOpen = false)
    {
        _stream = stream;
        Description = description;
        _leaveOpen = leaveOpen;
    }

    public string Description { get; }

    /// <summary>Byte offset of the next frame, for error messages.</summary>
    public long Offset { get; private set; }

    public async IAsyncEnumerable<TensorBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        byte[] prefix = new byte[8];
        long batches = 0;
        while (true)
        {
            // Stopped: no further frame is read, even one already buffered.
            cancellationToken.ThrowIfCancellationRequested();
            long frameStart = Offset;
            int got = await ReadAtLeastAsync(prefix, 8, cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new IOException($"{Description}: the stream ended after {batches} batches without an end frame (at byte {frameStart}); the sender stopped before finishing.");
            }
            if (got < 8)
            {
                throw new IOException($"{Description}: truncated frame header at byte {frameStart}.");
            }
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength == 0 || headerLength > TensorFrame.MaxHeaderBytes)
            {
                throw new InvalidDataException($"{Description}: byte {frameStart}: header length {headerLength} is not plausible; this is not a StreamLoader frame stream.");
            }
            byte[] header = ArrayPool<byte>.Shared.Rent((int)headerLength);
            TensorFrame.Header parsed;
            try
            {
                if (await ReadAtLeastAsync(header.AsMemory(0, (int)headerLength), (int)headerLength, cancellationToken).ConfigureAwait(false) < (int)headerLength)
                {
                    throw new IOException($"{Description}: the stream ended inside the header of the frame at byte {frameStart}.");
                }
                parsed = TensorFrame.ParseHeader(header.AsSpan(0, (int)headerLength), $"{Description}: frame at byte {frameStart}");
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(header);
            }

            if (parsed.CheckEnd(Description, "sender", string.Empty, batches))
            {
                yield break;
            }

            TensorFrame.CheckData(parsed, TensorFrame.MaxDataBytes, $"{Description}: frame at byte {frameStart}");
            byte[] data = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, parsed.DataLength));
            TensorBatch batch;
            try
            {
                if (await ReadAtLeastAsync(data.AsMemory(0, (int)parsed.DataLength), (int)parsed.DataLength, cancellationToken).ConfigureAwait(false) < parsed.DataLength)
                {
                    throw new IOException($"{Description}: the stream ended inside the data of the frame at byte {frameStart}.");
                }
                batch = TensorFrame.ToBatch(parsed, data.AsSpan(0, (int)parsed.DataLength));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(data);
            }
            batches++;
            yield return batch;
        }
    }

    private async ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int count, CancellationToken cancellationToken)
    {
        int n = await _stream.ReadAtLeastAsync(buffer[..count], count, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        Offset += n;
        return n;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_leaveOpen)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
