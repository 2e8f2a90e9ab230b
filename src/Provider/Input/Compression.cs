using System.Buffers.Binary;
using System.IO.Compression;
using ICSharpCode.SharpZipLib.BZip2;

namespace StreamLoader.Provider.Input;

/// <summary>The compressions an input may be in, told apart by their magic bytes rather than by the file name.</summary>
public enum CompressionKind
{
    /// <summary>Not compressed.</summary>
    None,

    /// <summary>gzip (<c>1F 8B</c>), one member or several concatenated.</summary>
    Gzip,

    /// <summary>bzip2 (<c>BZh1</c>..<c>BZh9</c>), one stream or several concatenated (Wikipedia's multistream dumps).</summary>
    Bzip2,

    /// <summary>Zstandard (<c>28 B5 2F FD</c>), one frame or several (The Pile's <c>.jsonl.zst</c>).</summary>
    Zstd,
}

/// <summary>Detects and undoes compression on a forward-only stream.</summary>
public static class Compression
{
    /// <summary>Bytes <see cref="Detect"/> needs to see.</summary>
    public const int MagicBytes = 4;

    /// <summary>The compression whose magic bytes start <paramref name="head"/>.</summary>
    public static CompressionKind Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        {
            return CompressionKind.Gzip;
        }
        if (head.Length >= 4 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h' && head[3] is >= (byte)'1' and <= (byte)'9')
        {
            return CompressionKind.Bzip2;
        }
        if (head.Length >= 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD)
        {
            return CompressionKind.Zstd;
        }
        return CompressionKind.None;
    }

    /// <summary>The compression a file name's extension promises, if any (<c>.gz</c>, <c>.bz2</c>, <c>.zst</c>).</summary>
    public static CompressionKind FromName(string name)
    {
        string lower = name.ToLowerInvariant();
        return lower.EndsWith(".gz", StringComparison.Ordinal) || lower.EndsWith(".gzip", StringComparison.Ordinal) ? CompressionKind.Gzip
            : lower.EndsWith(".bz2", StringComparison.Ordinal) ? CompressionKind.Bzip2
            : lower.EndsWith(".zst", StringComparison.Ordinal) || lower.EndsWith(".zstd", StringComparison.Ordinal) ? CompressionKind.Zstd
            : CompressionKind.None;
    }

    /// <summary>The name with a compression extension removed (<c>a.jsonl.zst</c> → <c>a.jsonl</c>).</summary>
    public static string StripExtension(string name) => FromName(name) switch
    {
        CompressionKind.None => name,
        _ => name[..name.LastIndexOf('.')],
    };

    /// <summary>A lower-case name for messages and reports.</summary>
    public static string Name(CompressionKind kind) => kind switch
    {
        CompressionKind.Gzip => "gzip",
        CompressionKind.Bzip2 => "bzip2",
        CompressionKind.Zstd => "zstd",
        _ => "none",
    };

    /// <summary>Wraps <paramref name="raw"/> in a decompressor that checks integrity and reads across concatenated members.</summary>
    /// <remarks>
    /// A truncated input fails loudly instead of ending early. With more than one thread, zstd frames and bzip2 streams
    /// are decompressed several at once (<see cref="ParallelUnitStream"/>), giving the same bytes; gzip is one member in
    /// practice, and a member can only be inflated from its start, so gzip is always one thread.
    /// </remarks>
    public static Stream Decompress(CompressionKind kind, Stream raw, int threads) => (kind, threads) switch
    {
        (CompressionKind.Zstd, > 1) => new ParallelUnitStream(new ZstdFrameSplitter(raw), unit => Decompress(CompressionKind.Zstd, unit), threads),
        (CompressionKind.Bzip2, > 1) => new ParallelUnitStream(new Bzip2StreamSplitter(raw), unit => Decompress(CompressionKind.Bzip2, unit), threads),
        _ => Decompress(kind, raw),
    };

    /// <summary>Whether <see cref="Decompress(CompressionKind, Stream, int)"/> spreads <paramref name="kind"/> over several threads.</summary>
    public static bool DecompressesInParallel(CompressionKind kind) => kind is CompressionKind.Zstd or CompressionKind.Bzip2;

    /// <summary>Wraps <paramref name="raw"/> in a decompressor that checks integrity and reads across concatenated members, on the calling thread.</summary>
    /// <remarks>A truncated input fails loudly instead of ending early.</remarks>
    public static Stream Decompress(CompressionKind kind, Stream raw) => kind switch
    {
        CompressionKind.Gzip => new CheckedGzipStream(raw),
        // SharpZipLib's bzip2 decoder reads a byte at a time: buffer below it (a network stream would pay per byte).
        CompressionKind.Bzip2 => new ConcatenatedBzip2Stream(new BufferedStream(raw, 1 << 16)),
        CompressionKind.Zstd => new ZstdFrameStream(raw),
        _ => raw,
    };
}

/// <summary>gzip through the runtime's native zlib (4-5x SharpZipLib's managed inflater), failing on a truncated input instead of ending early.</summary>
/// <remarks>
/// zlib checks each member's CRC and length when it reaches the member's end, and <see cref="GZipStream"/> reads
/// across concatenated members, ending each read at a member's end. What it does not do is tell a member cut short
/// from the end of the stream: a truncated file just ends. So this keeps the input's last 8 bytes and the output
/// offsets where reads ended. A whole stream ends with its last member's trailer, whose length field (the member's
/// size mod 2^32) reaches back from the end of the output to a read boundary, where that member began; the end of a
/// cut stream is compressed data, whose last four bytes match a boundary by chance about once in 2^32 / reads.
/// </remarks>
internal sealed class CheckedGzipStream : ReadOnlyForwardStream
{
    private readonly TailStream _raw;
    private readonly GZipStream _inner;
    private readonly HashSet<uint> _starts = [0];
    private long _total;
    private bool _checked;

    public CheckedGzipStream(Stream raw)
    {
        _raw = new TailStream(raw);
        _inner = new GZipStream(_raw, CompressionMode.Decompress, leaveOpen: false);
    }

    public override int Read(Span<byte> buffer) => Count(_inner.Read(buffer), buffer.Length);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);

    private int Count(int read, int asked)
    {
        if (read > 0)
        {
            _total += read;
            _starts.Add((uint)_total);
        }
        else if (asked > 0 && !_checked)
        {
            _checked = true;
            uint size = _raw.Seen >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(_raw.Tail[4..]) : 0;
            if (_raw.Seen < 18 || !_starts.Contains((uint)_total - size))
            {
                throw new InvalidDataException($"the input ended inside a gzip member: its last bytes are not the trailer of the {_total:N0} bytes decoded");
            }
        }
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Passes reads through, remembering the last 8 bytes read and how many were.</summary>
    private sealed class TailStream : ReadOnlyForwardStream
    {
        private readonly Stream _inner;
        private readonly byte[] _tail = new byte[8];

        public TailStream(Stream inner)
        {
            _inner = inner;
        }

        public long Seen { get; private set; }

        /// <summary>The last 8 bytes read (fewer, zero-padded at the front, when fewer were read).</summary>
        public ReadOnlySpan<byte> Tail => _tail;

        public override int Read(Span<byte> buffer) => Keep(buffer[.._inner.Read(buffer)]);

        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Keep(buffer.Span[..read]);
        }

        private int Keep(ReadOnlySpan<byte> read)
        {
            if (read.Length >= 8)
            {
                read[^8..].CopyTo(_tail);
            }
            else if (read.Length > 0)
            {
                _tail.AsSpan(read.Length).CopyTo(_tail);
                read.CopyTo(_tail.AsSpan(8 - read.Length));
            }
            Seen += read.Length;
            return read.Length;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>bzip2 across concatenated streams: each stream ends with its own CRC, and another may follow.</summary>
/// <remarks>SharpZipLib's <see cref="BZip2InputStream"/> stops after one stream and reads the input byte by byte, so
/// it leaves the next stream's first byte unread; this starts a new decoder there.</remarks>
internal sealed class ConcatenatedBzip2Stream : ReadOnlyForwardStream
{
    private readonly Stream _raw;
    private BZip2InputStream _current;

    public ConcatenatedBzip2Stream(Stream raw)
    {
        _raw = raw;
        _current = new BZip2InputStream(raw) { IsStreamOwner = false };
    }

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (true)
        {
            int n = _current.Read(buffer);
            if (n > 0)
            {
                return n;
            }
            int next = _raw.ReadByte();
            if (next < 0)
            {
                return 0;
            }
            if (next != 'B')
            {
                throw new InvalidDataException($"bzip2: unexpected byte 0x{next:X2} after the end of a stream (expected another stream's 'BZh' or the end of the input).");
            }
            _current.Dispose();
            _current = new BZip2InputStream(new PrefixedStream(new byte[] { (byte)next }, new NonClosingStream(_raw))) { IsStreamOwner = true };
        }
    }

    // SharpZipLib decodes synchronously; the provider's reader runs on its own stage, so blocking here is by design.
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<int>(Read(buffer.Span));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current.Dispose();
            _raw.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Zstandard across concatenated frames, failing on a truncated frame instead of ending early.</summary>
internal sealed class ZstdFrameStream : ReadOnlyForwardStream
{
    private readonly ZstdSharp.DecompressionStream _inner;

    public ZstdFrameStream(Stream raw)
    {
        _inner = new ZstdSharp.DecompressionStream(raw, bufferSize: 1 << 17, checkEndOfStream: true, leaveOpen: false);
    }

    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Passes reads through and leaves the inner stream open when disposed.</summary>
internal sealed class NonClosingStream : ReadOnlyForwardStream
{
    private readonly Stream _inner;

    public NonClosingStream(Stream inner)
    {
        _inner = inner;
    }

    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
}
