using System.Buffers.Binary;
using StreamLoader.Core.Buffers;

namespace StreamLoader.Provider.Input;

/// <summary>
/// Decompresses an input made of independent units (zstd frames, bzip2 streams) on several threads: a serial splitter
/// finds where each unit ends without decompressing it, workers decompress whole units at once, and the output comes
/// back in the input's order, byte for byte what the serial decoder gives.
/// </summary>
/// <remarks>
/// <para>
/// At most <c>threads + 1</c> units are in flight. A unit longer than <see cref="MostUnitBytes"/> compressed (a file
/// of one big frame, as <c>zstd -T0</c> writes) is not held: from there on the rest of the input is decompressed
/// serially by the format's own streaming decoder, so memory stays bounded whatever the input.
/// </para>
/// <para>
/// Integrity is the decoders' own: each unit is decoded by the serial decoder on its own bytes, which checks its
/// checksums and fails on a cut-off unit; a split in the wrong place (a bzip2 stream's magic bytes appearing by chance
/// inside compressed data, odds of about 2^-80 per byte) fails the same way instead of giving wrong text.
/// </para>
/// </remarks>
internal sealed class ParallelUnitStream : ReadOnlyForwardStream
{
    /// <summary>Units longer than this, compressed, are decompressed serially with the rest of the input.</summary>
    public const int MostUnitBytes = 8 << 20;

    private readonly UnitSplitter _splitter;
    private readonly Func<Stream, Stream> _decoder;
    private readonly int _depth;
    private readonly int _mostUnitBytes;
    private readonly Queue<Task<Decoded>> _inFlight = new();
    private readonly CancellationTokenSource _stop = new();
    private Decoded _current;
    private int _currentAt;
    private Stream? _serialRest;
    private bool _split;
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _splitFailure;
    private bool _disposed;

    /// <param name="splitter">Finds the units of the raw input.</param>
    /// <param name="decoder">The format's serial decoder over a stream of units (it owns the stream it is given).</param>
    /// <param name="threads">Units decompressed at once.</param>
    /// <param name="mostUnitBytes">Longest unit held, compressed (<see cref="MostUnitBytes"/>; tests pass less).</param>
    public ParallelUnitStream(UnitSplitter splitter, Func<Stream, Stream> decoder, int threads, int mostUnitBytes = MostUnitBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 2);
        _splitter = splitter;
        _decoder = decoder;
        _depth = threads + 1;
        _mostUnitBytes = mostUnitBytes;
    }

    /// <summary>Units decompressed on the workers so far.</summary>
    public long UnitsDecoded { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }
            int taken = TakeFromCurrent(buffer);
            if (taken > 0)
            {
                return taken;
            }
            StartUnits(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            if (_inFlight.TryDequeue(out Task<Decoded>? next))
            {
                Use(next.GetAwaiter().GetResult());
                continue;
            }
            _splitFailure?.Throw();
            return _serialRest?.Read(buffer) ?? 0;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }
            int taken = TakeFromCurrent(buffer.Span);
            if (taken > 0)
            {
                return taken;
            }
            await StartUnits(cancellationToken).ConfigureAwait(false);
            if (_inFlight.TryDequeue(out Task<Decoded>? next))
            {
                Use(await next.ConfigureAwait(false));
                continue;
            }
            _splitFailure?.Throw();
            return _serialRest is null ? 0 : await _serialRest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
    }

    private int TakeFromCurrent(Span<byte> buffer)
    {
        int left = _current.Length - _currentAt;
        if (left <= 0)
        {
            return 0;
        }
        int n = Math.Min(left, buffer.Length);
        _current.Bytes.AsSpan(_currentAt, n).CopyTo(buffer);
        _currentAt += n;
        return n;
    }

    private void Use(Decoded decoded)
    {
        Release(_current);
        _current = decoded;
        _currentAt = 0;
        UnitsDecoded++;
    }

    /// <summary>Splits off units until enough are in flight, or the input ends, or a unit is too long to hold.</summary>
    private async ValueTask StartUnits(CancellationToken cancellationToken)
    {
        while (!_split && _inFlight.Count < _depth)
        {
            SplitUnit unit;
            try
            {
                unit = await _splitter.NextAsync(_mostUnitBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A cut-off or damaged input keeps its place: the units split before it are handed on first.
                _split = true;
                _splitFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex);
                return;
            }
            if (unit.Bytes is null)
            {
                _split = true;
                if (unit.Rest is { } rest)
                {
                    // Too long to hold: the units in flight come first, then the rest, serially.
                    _serialRest = _decoder(rest);
                }
                return;
            }
            long offset = unit.Offset;
            CancellationToken stop = _stop.Token;
            _inFlight.Enqueue(Task.Run(() => Decode(unit.Bytes, unit.Length, offset, stop), stop));
        }
    }

    private Decoded Decode(byte[] compressed, int length, long offset, CancellationToken cancellationToken)
    {
        byte[] output = HandOffArrayPool.Rent<byte>(Math.Max(1 << 16, length * 4));
        int used = 0;
        try
        {
            using var source = new MemoryStream(compressed, 0, length, writable: false);
            using (Stream decoder = _decoder(new NonClosingStream(source)))
            {
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (used == output.Length)
                    {
                        byte[] larger = HandOffArrayPool.Rent<byte>(output.Length * 2);
                        output.AsSpan(0, used).CopyTo(larger);
                        HandOffArrayPool.Return(output);
                        output = larger;
                    }
                    int n = decoder.Read(output.AsSpan(used));
                    if (n == 0)
                    {
                        break;
                    }
                    used += n;
                }
            }
            if (source.Position != length)
            {
                throw new InvalidDataException($"{_splitter.Format}: {length - source.Position:N0} bytes follow the end of the unit that starts at compressed byte {offset:N0}");
            }
            return new Decoded(output, used);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            HandOffArrayPool.Return(output);
            throw ex is InvalidDataException ? ex : new InvalidDataException($"{_splitter.Format}: the unit that starts at compressed byte {offset:N0} does not decompress ({ex.Message})", ex);
        }
        catch
        {
            HandOffArrayPool.Return(output);
            throw;
        }
        finally
        {
            HandOffArrayPool.Return(compressed);
        }
    }

    private static void Release(Decoded decoded)
    {
        if (decoded.Bytes is { Length: > 0 } bytes)
        {
            HandOffArrayPool.Return(bytes);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _stop.Cancel();
            while (_inFlight.TryDequeue(out Task<Decoded>? left))
            {
                try
                {
                    Release(left.GetAwaiter().GetResult());
                }
                catch (Exception)
                {
                    // Stopped, or a later unit failed: the read has already ended.
                }
            }
            Release(_current);
            _current = default;
            _serialRest?.Dispose();
            _splitter.Dispose();
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }

    private readonly record struct Decoded(byte[] Bytes, int Length);
}

/// <summary>One unit the splitter found: its compressed bytes (pooled, handed over), or at the end null with the rest of the input when a unit was too long to hold.</summary>
internal readonly record struct SplitUnit(byte[]? Bytes, int Length, long Offset, Stream? Rest);

/// <summary>Finds where each independently decodable unit of a compressed input ends, reading it once, without decompressing.</summary>
internal abstract class UnitSplitter : IDisposable
{
    private readonly Stream _raw;
    private byte[] _buffer = HandOffArrayPool.Rent<byte>(1 << 20);
    private int _start;
    private int _end;
    private bool _eof;

    protected UnitSplitter(Stream raw)
    {
        _raw = raw;
    }

    /// <summary>The format's name, for errors.</summary>
    public abstract string Format { get; }

    /// <summary>Compressed bytes consumed before the buffered ones.</summary>
    protected long Consumed { get; private set; }

    /// <summary>The buffered bytes not yet taken.</summary>
    protected ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <summary>True once the input has no more bytes to buffer.</summary>
    protected bool AtEnd => _eof;

    /// <summary>The next unit, or the end (with the rest of the input when a unit is longer than <paramref name="most"/>).</summary>
    public abstract ValueTask<SplitUnit> NextAsync(int most, CancellationToken cancellationToken);

    /// <summary>Buffers at least <paramref name="count"/> bytes if the input has them; false when it ends first.</summary>
    protected async ValueTask<bool> EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count && !_eof)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                Consumed += _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                byte[] larger = HandOffArrayPool.Rent<byte>(_buffer.Length * 2);
                Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
                HandOffArrayPool.Return(_buffer);
                _buffer = larger;
            }
            int n = await _raw.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
            }
            _end += n;
        }
        return _end - _start >= count;
    }

    /// <summary>Moves <paramref name="count"/> buffered bytes into <paramref name="unit"/> (growing it).</summary>
    protected void Take(int count, ref byte[] unit, ref int length)
    {
        if (length + count > unit.Length)
        {
            byte[] larger = HandOffArrayPool.Rent<byte>(Math.Max(unit.Length * 2, length + count));
            unit.AsSpan(0, length).CopyTo(larger);
            HandOffArrayPool.Return(unit);
            unit = larger;
        }
        _buffer.AsSpan(_start, count).CopyTo(unit.AsSpan(length));
        length += count;
        _start += count;
    }

    /// <summary>Passes over <paramref name="count"/> buffered bytes.</summary>
    protected void Skip(int count) => _start += count;

    /// <summary>The unit read so far, then what is buffered, then the rest of the input: for the serial decoder once a unit is too long to hold.</summary>
    protected Stream Rest(byte[] unit, int length)
    {
        byte[] held = new byte[length + (_end - _start)];
        unit.AsSpan(0, length).CopyTo(held);
        Buffered.CopyTo(held.AsSpan(length));
        HandOffArrayPool.Return(unit);
        _start = _end;
        return new PrefixedStream(held, new NonClosingStream(_raw));
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        HandOffArrayPool.Return(buffer);
        _raw.Dispose();
    }
}

/// <summary>Splits Zstandard input at frame ends by walking frame and block headers (RFC 8878); skippable frames are dropped, as the decoder drops them.</summary>
internal sealed class ZstdFrameSplitter(Stream raw) : UnitSplitter(raw)
{
    private const uint FrameMagic = 0xFD2FB528;

    public override string Format => "zstd";

    public override async ValueTask<SplitUnit> NextAsync(int most, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!await EnsureAsync(4, cancellationToken).ConfigureAwait(false))
            {
                if (!Buffered.IsEmpty)
                {
                    throw Cut(Buffered.Length);
                }
                return default;
            }
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(Buffered);
            if ((magic & 0xFFFFFFF0) == 0x184D2A50)
            {
                // A skippable frame: its size follows the magic number.
                if (!await EnsureAsync(8, cancellationToken).ConfigureAwait(false))
                {
                    throw Cut(8);
                }
                long skip = 8L + BinaryPrimitives.ReadUInt32LittleEndian(Buffered[4..]);
                while (skip > 0)
                {
                    if (!await EnsureAsync(1, cancellationToken).ConfigureAwait(false))
                    {
                        throw Cut((int)Math.Min(skip, int.MaxValue));
                    }
                    int n = (int)Math.Min(skip, Buffered.Length);
                    Skip(n);
                    skip -= n;
                }
                continue;
            }
            if (magic != FrameMagic)
            {
                throw new InvalidDataException($"zstd: expected a frame's magic number at compressed byte {Consumed:N0}, found {magic:X8}");
            }
            return await FrameAsync(most, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<SplitUnit> FrameAsync(int most, CancellationToken cancellationToken)
    {
        long offset = Consumed;
        byte[] unit = HandOffArrayPool.Rent<byte>(1 << 16);
        int length = 0;
        try
        {
            if (!await EnsureAsync(5, cancellationToken).ConfigureAwait(false))
            {
                throw Cut(5);
            }
            byte descriptor = Buffered[4];
            int contentSizeFlag = descriptor >> 6;
            bool singleSegment = (descriptor & 0x20) != 0;
            bool checksum = (descriptor & 0x04) != 0;
            int dictionaryBytes = (descriptor & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
            int contentSizeBytes = contentSizeFlag == 0 ? (singleSegment ? 1 : 0) : 1 << contentSizeFlag;
            int header = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
            if (!await EnsureAsync(header, cancellationToken).ConfigureAwait(false))
            {
                throw Cut(header);
            }
            Take(header, ref unit, ref length);
            while (true)
            {
                if (!await EnsureAsync(3, cancellationToken).ConfigureAwait(false))
                {
                    throw Cut(3);
                }
                int block = Buffered[0] | (Buffered[1] << 8) | (Buffered[2] << 16);
                bool last = (block & 1) != 0;
                int type = (block >> 1) & 3;
                int size = block >> 3;
                int body = type switch
                {
                    1 => 1,
                    3 => throw new InvalidDataException($"zstd: a block of the reserved type at compressed byte {Consumed:N0}"),
                    _ => size,
                };
                Take(3, ref unit, ref length);
                while (body > 0)
                {
                    if (!await EnsureAsync(1, cancellationToken).ConfigureAwait(false))
                    {
                        throw Cut(body);
                    }
                    int n = Math.Min(body, Buffered.Length);
                    Take(n, ref unit, ref length);
                    body -= n;
                }
                if (length > most)
                {
                    return new SplitUnit(null, 0, offset, Rest(unit, length));
                }
                if (last)
                {
                    break;
                }
            }
            if (checksum)
            {
                if (!await EnsureAsync(4, cancellationToken).ConfigureAwait(false))
                {
                    throw Cut(4);
                }
                Take(4, ref unit, ref length);
            }
            return new SplitUnit(unit, length, offset, null);
        }
        catch
        {
            // Not yet handed on (Rest() hands it back itself, on a path that returns).
            HandOffArrayPool.Return(unit);
            throw;
        }
    }

    private InvalidDataException Cut(int wanted) =>
        new($"zstd: the input ended inside a frame, {wanted:N0} more bytes were expected after compressed byte {Consumed:N0} (truncated?)");
}

/// <summary>
/// Splits bzip2 input at stream starts: each stream begins, byte-aligned, with <c>BZh1</c>..<c>BZh9</c> and then a block's
/// magic number (or the end-of-stream one, for an empty stream), which is where the next unit is cut.
/// </summary>
internal sealed class Bzip2StreamSplitter(Stream raw) : UnitSplitter(raw)
{
    private const int MarkBytes = 10;

    public override string Format => "bzip2";

    public override async ValueTask<SplitUnit> NextAsync(int most, CancellationToken cancellationToken)
    {
        await EnsureAsync(MarkBytes, cancellationToken).ConfigureAwait(false);
        if (Buffered.IsEmpty)
        {
            return default;
        }
        long offset = Consumed;
        if (!IsStreamStart(Buffered, AtEnd))
        {
            throw new InvalidDataException($"bzip2: expected a stream's 'BZh' at compressed byte {offset:N0} (after the end of a stream, another stream or the end of the input)");
        }
        byte[] unit = HandOffArrayPool.Rent<byte>(1 << 18);
        int length = 0;
        // The first 4 bytes are this stream's own header; the next stream starts after them at the earliest.
        Take(Math.Min(4, Buffered.Length), ref unit, ref length);
        while (true)
        {
            await EnsureAsync(MarkBytes, cancellationToken).ConfigureAwait(false);
            ReadOnlySpan<byte> buffered = Buffered;
            int searchable = AtEnd ? buffered.Length : buffered.Length - MarkBytes + 1;
            int next = NextStreamStart(buffered, searchable);
            bool ends = next >= 0 || AtEnd;
            Take(next >= 0 ? next : AtEnd ? buffered.Length : searchable, ref unit, ref length);
            if (length > most)
            {
                return new SplitUnit(null, 0, offset, Rest(unit, length));
            }
            if (ends)
            {
                return new SplitUnit(unit, length, offset, null);
            }
        }
    }

    /// <summary>The first stream start at an index below <paramref name="searchable"/>, or -1.</summary>
    private static int NextStreamStart(ReadOnlySpan<byte> buffered, int searchable)
    {
        int from = 0;
        while (from < searchable)
        {
            int at = buffered[from..].IndexOf("BZh"u8);
            if (at < 0 || from + at >= searchable)
            {
                return -1;
            }
            at += from;
            if (IsStreamStart(buffered[at..], atEnd: false))
            {
                return at;
            }
            from = at + 1;
        }
        return -1;
    }

    private static bool IsStreamStart(ReadOnlySpan<byte> at, bool atEnd)
    {
        if (at.Length < MarkBytes)
        {
            // The input's last bytes: only their header can be checked (the decoder judges the rest).
            return atEnd && at.Length >= 3 && at.StartsWith("BZh"u8);
        }
        return at.StartsWith("BZh"u8) && at[3] is >= (byte)'1' and <= (byte)'9'
            && (at[4..10].SequenceEqual((ReadOnlySpan<byte>)[0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) || at[4..10].SequenceEqual((ReadOnlySpan<byte>)[0x17, 0x72, 0x45, 0x38, 0x50, 0x90]));
    }
}
