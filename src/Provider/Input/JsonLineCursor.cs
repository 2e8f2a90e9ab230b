using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>
/// Walks a newline-delimited JSON input (file or URL, gzip or plain) line by line: the provider's serial stage for
/// JSON line formats. It counts every line, leaves out blank ones, and frames the rest into chunks
/// (<see cref="FrameAsync{T}"/>) that workers check for UTF-8 and parse; what no parser can use is counted in order
/// (<see cref="CountBadLine"/>). Decompression and I/O failures become <see cref="SourceFormatException"/>s naming the
/// line and offset.
/// </summary>
internal sealed class JsonLineCursor : IDisposable
{
    private readonly OpenedInput _input;
    private readonly Utf8LineReader _lines;
    private readonly SourceStatistics _statistics;
    private readonly int _maxLineBytes;

    private JsonLineCursor(OpenedInput input, LineReaderOptions options, SourceStatistics statistics, string format, long firstOffset = 0, long firstLine = 1)
    {
        _input = input;
        _statistics = statistics;
        _maxLineBytes = options.MaxLineBytes;
        _lines = new Utf8LineReader(input.Content, options.MaxLineBytes, initialBufferBytes: 1 << 20, firstOffset: firstOffset, firstLine: firstLine);
        Bad = new BadRecordTracker(input.Name, format, options, statistics);
    }

    /// <summary>Counts bad records for the format reader too, with the same policy.</summary>
    public BadRecordTracker Bad { get; }

    /// <summary>
    /// Counts a line that could not be used, by what the framer or the decode found: <c>oversized</c>,
    /// <c>invalid_utf8</c>, or JSON that did not parse, as <c>truncated</c> when it is the input's last line and no
    /// newline ends it (the file was cut off inside it), else as <c>malformed_json</c>.
    /// </summary>
    public void CountBadLine(in FramedLine line)
    {
        switch (line.State)
        {
            case LineState.Oversized:
                Bad.Bad("oversized", line.Number, line.Offset, $"a line of {line.Bytes} bytes exceeds the {_maxLineBytes}-byte limit");
                break;
            case LineState.InvalidUtf8:
                Bad.Bad("invalid_utf8", line.Number, line.Offset, "the line is not valid UTF-8");
                break;
            case LineState.Malformed when line.Unterminated:
                Bad.Bad("truncated", line.Number, line.Offset, $"the input ends inside this line, with no newline after it: it is cut off, not complete JSON ({line.Error})");
                break;
            default:
                Bad.Bad("malformed_json", line.Number, line.Offset, line.Error ?? "the line is not a JSON value");
                break;
        }
    }

    public static async Task<JsonLineCursor> OpenAsync(string location, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions options, SourceStatistics statistics, string format, CancellationToken cancellationToken)
    {
        OpenedInput input = await OpenedInput.OpenAsync(location, http, httpOptions, statistics, options.DecodeThreadCount, cancellationToken).ConfigureAwait(false);
        return new JsonLineCursor(input, options, statistics, format);
    }

    /// <summary>Opens an uncompressed file or URL at a line that starts at <paramref name="offset"/> (see <see cref="OpenedInput.OpenAtAsync"/>).</summary>
    public static async Task<JsonLineCursor> OpenAtAsync(string location, long offset, long line, string? validator, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions options, SourceStatistics statistics, string format, CancellationToken cancellationToken) =>
        new(await OpenedInput.OpenAtAsync(location, offset, validator, http, httpOptions, statistics, cancellationToken).ConfigureAwait(false), options, statistics, format, offset, line);

    /// <summary>For a URL, the version label of what is read (see <see cref="OpenedInput.Validator"/>).</summary>
    public string? Validator => _input.Validator;

    /// <summary>True when lines' offsets can be sought again (a local, uncompressed file).</summary>
    public bool IsSeekable => _input.IsSeekable;

    /// <summary>
    /// The serial stage: frames the input's lines into chunks for the decode, counting each line's bytes and the
    /// input's progress. Blank lines are left out; a line over the limit is passed on without its bytes, to be
    /// counted in its turn. A read that fails (a truncated archive, a dropped connection) is thrown, naming the line,
    /// after the chunk of the lines before it.
    /// </summary>
    public async IAsyncEnumerable<LineChunk<T>> FrameAsync<T>([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Made when a line comes to put in it, so the input's end leaves none to make and throw away.
        LineChunk<T>? chunk = null;
        try
        {
            while (true)
            {
                bool more;
                Exception? failure = null;
                try
                {
                    more = await _lines.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failure = _input.DescribeFailure(ex, _lines.LineNumber + 1);
                    more = false;
                }
                if (failure is not null || !more)
                {
                    if (chunk is not null)
                    {
                        LineChunk<T> last = chunk;
                        chunk = null;
                        yield return last;
                    }
                    if (failure is not null)
                    {
                        throw failure;
                    }
                    yield break;
                }
                _statistics.AddRecord(_lines.LineBytes + 1);
                _statistics.SetRawProgress(_input.RawBytesRead, _input.RawLength);
                if (_lines.LineWasOversized)
                {
                    chunk ??= new LineChunk<T>();
                    chunk.AddOversized(_lines.LineNumber, _lines.LineOffset, _lines.LineBytes);
                }
                else
                {
                    ReadOnlySpan<byte> line = _lines.Line;
                    if (line.Trim(" \t\r"u8).IsEmpty)
                    {
                        continue;
                    }
                    chunk ??= new LineChunk<T>();
                    chunk.Add(line, _lines.LineNumber, _lines.LineOffset, _lines.LineIsUnterminated);
                }
                if (chunk.IsFull)
                {
                    LineChunk<T> full = chunk;
                    chunk = null;
                    yield return full;
                }
            }
        }
        finally
        {
            chunk?.Dispose();
        }
    }

    public void Dispose()
    {
        _lines.Dispose();
        _input.Dispose();
    }
}
