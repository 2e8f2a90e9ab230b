using StreamLoader.Core.Buffers;

namespace StreamLoader.Provider.Input;

/// <summary>What became of one framed line.</summary>
internal enum LineState : byte
{
    /// <summary>Framed, not yet decoded.</summary>
    Framed,

    /// <summary>Decoded: <see cref="LineChunk{T}.Parsed"/> holds the format's reading of it.</summary>
    Parsed,

    /// <summary>Longer than the limit; its bytes were not kept.</summary>
    Oversized,

    /// <summary>Not valid UTF-8.</summary>
    InvalidUtf8,

    /// <summary>Valid UTF-8 that the format's parser rejected (<see cref="FramedLine.Error"/> says why).</summary>
    Malformed,
}

/// <summary>One line of a <see cref="LineChunk{T}"/>: where its bytes are in the chunk, and where it stood in the input.</summary>
internal struct FramedLine
{
    public int Start;
    public int Length;

    /// <summary>1-based line number in the input.</summary>
    public long Number;

    /// <summary>Byte offset of the line in the decompressed input.</summary>
    public long Offset;

    /// <summary>The line's length in the input, also when it was too long to keep.</summary>
    public long Bytes;

    /// <summary>The input's last line, with no newline after it (a cut-off file ends so).</summary>
    public bool Unterminated;

    public LineState State;

    /// <summary>The parser's message for a <see cref="LineState.Malformed"/> line.</summary>
    public string? Error;
}

/// <summary>
/// Consecutive non-blank lines of one input, copied into one pooled buffer by the serial framer
/// (<see cref="JsonLineCursor.FrameAsync{T}"/>) and decoded in place by a worker (<see cref="Decoding.OrderedDecode"/>).
/// </summary>
/// <typeparam name="T">The format's reading of a line.</typeparam>
internal sealed class LineChunk<T> : IDisposable
{
    /// <summary>Most lines a chunk holds.</summary>
    public const int MaxLines = 256;

    /// <summary>A chunk is handed on once it holds this many bytes (one longer line makes a chunk of its own).</summary>
    public const int TargetBytes = 256 << 10;

    private byte[] _bytes;
    private int _used;

    public LineChunk()
    {
        _bytes = HandOffArrayPool.Rent<byte>(TargetBytes);
        Lines = HandOffArrayPool.Rent<FramedLine>(MaxLines);
        Parsed = HandOffArrayPool.Rent<T>(MaxLines);
    }

    public FramedLine[] Lines { get; private set; }

    public T[] Parsed { get; private set; }

    public int Count { get; private set; }

    public bool IsFull => Count == MaxLines || _used >= TargetBytes;

    /// <summary>The bytes of line <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Bytes(int index) => _bytes.AsSpan(Lines[index].Start, Lines[index].Length);

    /// <summary>Adds a line whose bytes are kept.</summary>
    public void Add(ReadOnlySpan<byte> line, long number, long offset, bool unterminated)
    {
        if (_used + line.Length > _bytes.Length)
        {
            byte[] larger = HandOffArrayPool.Rent<byte>(_used + line.Length);
            _bytes.AsSpan(0, _used).CopyTo(larger);
            HandOffArrayPool.Return(_bytes);
            _bytes = larger;
        }
        line.CopyTo(_bytes.AsSpan(_used));
        Lines[Count++] = new FramedLine { Start = _used, Length = line.Length, Number = number, Offset = offset, Bytes = line.Length, Unterminated = unterminated };
        _used += line.Length;
    }

    /// <summary>Adds a line too long to keep.</summary>
    public void AddOversized(long number, long offset, long bytes) =>
        Lines[Count++] = new FramedLine { Number = number, Offset = offset, Bytes = bytes, State = LineState.Oversized };

    public void Dispose()
    {
        if (Lines.Length == 0)
        {
            return;
        }
        // The parsed values hold strings: clear them so the pool does not keep documents alive.
        Array.Clear(Parsed, 0, Count);
        Array.Clear(Lines, 0, Count);
        HandOffArrayPool.Return(_bytes);
        HandOffArrayPool.Return(Lines);
        HandOffArrayPool.Return(Parsed);
        _bytes = [];
        Lines = [];
        Parsed = [];
        Count = 0;
    }
}
