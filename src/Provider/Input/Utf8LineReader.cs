using StreamLoader.Core.Buffers;

namespace StreamLoader.Provider.Input;

/// <summary>Reads newline-delimited UTF-8 from a stream into a pooled buffer, one line at a time, without decoding.</summary>
/// <remarks>
/// The current line stays valid until the next read. Lines longer than the limit are not buffered: they are
/// consumed and reported as oversized so the caller can count the skip. A UTF-8 byte-order mark (EF BB BF) at the
/// very start of the stream is skipped; offsets still count it, so <see cref="LineOffset"/> stays a byte offset into
/// the stream. A '\r' before the '\n' is not part of the line.
/// </remarks>
public sealed class Utf8LineReader : IDisposable
{
    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _scanFrom;
    private bool _eof;
    private long _bufferOffset;
    private int _lineStart;
    private int _lineLength;
    private bool _startChecked;

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <param name="stream">The bytes, from <paramref name="firstOffset"/> on.</param>
    /// <param name="maxLineBytes">Longest line kept.</param>
    /// <param name="initialBufferBytes">Starting buffer size.</param>
    /// <param name="firstOffset">The stream's position in the file, when reading starts mid-file (at a line start).</param>
    /// <param name="firstLine">The number of the line at <paramref name="firstOffset"/>.</param>
    public Utf8LineReader(Stream stream, int maxLineBytes = 256 << 20, int initialBufferBytes = 1 << 16, long firstOffset = 0, long firstLine = 1)
    {
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = HandOffArrayPool.Rent<byte>(initialBufferBytes);
        _bufferOffset = firstOffset;
        LineNumber = firstLine - 1;
        // A byte order mark can only open the file.
        _startChecked = firstOffset > 0;
    }

    /// <summary>1-based number of the current line.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Byte offset (in the decompressed stream) where the current line starts.</summary>
    public long LineOffset { get; private set; }

    /// <summary>True when the current line exceeded the limit; <see cref="Line"/> is then empty.</summary>
    public bool LineWasOversized { get; private set; }

    /// <summary>Length of the current line in bytes, also when oversized.</summary>
    public long LineBytes { get; private set; }

    /// <summary>True when the current line is the input's last and no newline ends it: a cut-off file ends that way.</summary>
    public bool LineIsUnterminated { get; private set; }

    /// <summary>The current line, without its line terminator.</summary>
    public ReadOnlySpan<byte> Line => _buffer.AsSpan(_lineStart, _lineLength);

    /// <summary>Advances to the next line; false at end of stream.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        LineWasOversized = false;
        long oversizedBytes = 0;
        if (!_startChecked)
        {
            await SkipByteOrderMarkAsync(cancellationToken).ConfigureAwait(false);
        }
        while (true)
        {
            int newline = _buffer.AsSpan(_scanFrom, _end - _scanFrom).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int lineEnd = _scanFrom + newline;
                LineIsUnterminated = false;
                EmitLine(lineEnd, lineEnd + 1, oversizedBytes);
                return true;
            }
            _scanFrom = _end;
            if (_eof)
            {
                if (_end > _start || oversizedBytes > 0)
                {
                    LineIsUnterminated = true;
                    EmitLine(_end, _end, oversizedBytes);
                    return true;
                }
                return false;
            }

            if (_end - _start >= _maxLineBytes)
            {
                // Too long to keep: count it and drop what is buffered, then keep scanning for its end.
                oversizedBytes += _end - _start;
                if (!LineWasOversized)
                {
                    LineOffset = _bufferOffset + _start;
                }
                LineWasOversized = true;
                _bufferOffset += _end;
                _start = _end = _scanFrom = 0;
            }
            else if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _bufferOffset += _start;
                _end -= _start;
                _scanFrom -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                byte[] larger = HandOffArrayPool.Rent<byte>(Math.Min(Math.Max(_buffer.Length * 2, 1 << 16), Math.Max(_maxLineBytes, _buffer.Length) + 1));
                Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
                HandOffArrayPool.Return(_buffer);
                _buffer = larger;
            }

            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
            }
            _end += n;
        }
    }

    private async ValueTask SkipByteOrderMarkAsync(CancellationToken cancellationToken)
    {
        while (_end < 3 && !_eof)
        {
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
            }
            _end += n;
        }
        _startChecked = true;
        if (_buffer.AsSpan(0, _end).StartsWith(Utf8ByteOrderMark))
        {
            _start = _scanFrom = Utf8ByteOrderMark.Length;
        }
    }

    private void EmitLine(int lineEnd, int next, long oversizedBytes)
    {
        LineNumber++;
        if (LineWasOversized)
        {
            LineBytes = oversizedBytes + (lineEnd - _start);
            _lineStart = _lineLength = 0;
        }
        else
        {
            LineOffset = _bufferOffset + _start;
            int length = lineEnd - _start;
            if (length > 0 && _buffer[lineEnd - 1] == (byte)'\r')
            {
                length--;
            }
            _lineStart = _start;
            _lineLength = length;
            LineBytes = length;
            if (length > _maxLineBytes)
            {
                LineWasOversized = true;
                _lineLength = 0;
            }
        }
        _start = next;
        _scanFrom = next;
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        HandOffArrayPool.Return(buffer);
    }
}
