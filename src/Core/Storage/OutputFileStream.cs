using StreamLoader.Core.Diagnostics;

namespace StreamLoader.Core.Storage;

/// <summary>
/// A file written as a run's output (frames, tokenized ids): a create, write, flush or close that fails — a full disk,
/// a missing or read-only folder — is an <see cref="OutputWriteException"/> naming the file, so the run exits as an
/// output failure instead of blaming its input or taking the failure for a reader that left.
/// </summary>
public sealed class OutputFileStream : Stream
{
    private readonly FileStream _file;
    private bool _closed;
    private bool _failed;

    private OutputFileStream(FileStream file, string path)
    {
        _file = file;
        Path = path;
    }

    /// <summary>The file, as the user named it.</summary>
    public string Path { get; }

    /// <summary>Creates (or truncates) <paramref name="path"/> for writing.</summary>
    public static OutputFileStream Create(string path, int bufferSize = 1 << 16, bool useAsync = false)
    {
        try
        {
            return new OutputFileStream(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize, useAsync), path);
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw new OutputWriteException(path, ex);
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => _file.CanSeek;

    public override bool CanWrite => true;

    public override long Length => _file.Length;

    public override long Position
    {
        get => _file.Position;
        set => Guard(() => _file.Position = value);
    }

    public override void Write(byte[] buffer, int offset, int count) => Guard(() => _file.Write(buffer, offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            _file.Write(buffer);
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw Fail(ex);
        }
    }

    public override void WriteByte(byte value) => Guard(() => _file.WriteByte(value));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await _file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw Fail(ex);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => Guard(_file.Flush);

    /// <summary>Flushes, and with <paramref name="flushToDisk"/> asks the OS to put the bytes on the disk (fsync), as <see cref="FileStream.Flush(bool)"/>.</summary>
    public void Flush(bool flushToDisk) => Guard(() => _file.Flush(flushToDisk));

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw Fail(ex);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin)
    {
        long position = 0;
        Guard(() => position = _file.Seek(offset, origin));
        return position;
    }

    public override void SetLength(long value) => Guard(() => _file.SetLength(value));

    public override async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            return;
        }
        _closed = true; // once: a close that failed is not tried again (the unwritten bytes stay unwritten)
        try
        {
            await _file.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex) && _failed)
        {
            // Closing after a write already failed and was reported: the same bytes fail again; the file is closed.
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw Fail(ex);
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_closed)
        {
            _closed = true;
            try
            {
                _file.Dispose();
            }
            catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex) && _failed)
            {
                // Closing after a write already failed and was reported: the same bytes fail again; the file is closed.
            }
            catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
            {
                throw Fail(ex);
            }
        }
        base.Dispose(disposing);
    }

    private OutputWriteException Fail(Exception error)
    {
        _failed = true;
        return new OutputWriteException(Path, error);
    }

    private void Guard(Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (OutputWriteException.IsWriteFailure(ex))
        {
            throw Fail(ex);
        }
    }
}
