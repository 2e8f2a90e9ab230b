using System.Text.Unicode;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>
/// Walks a newline-delimited JSON input (file or URL, gzip or plain) line by line. It counts every line, skips blank
/// ones, and counts and skips what no JSON parser can use (oversized lines, invalid UTF-8), so a format reader only
/// parses. Decompression and I/O failures become <see cref="SourceFormatException"/>s naming the line and offset.
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
        _lines = new Utf8LineReader(input.Content, options.MaxLineBytes, firstOffset: firstOffset, firstLine: firstLine);
        Bad = new BadRecordTracker(input.Name, format, options, statistics);
    }

    /// <summary>Decodes the lines' string values (a document's text) through one buffer for the input.</summary>
    public JsonStringDecoder Strings { get; } = new();

    /// <summary>Counts bad records for the format reader too, with the same policy.</summary>
    public BadRecordTracker Bad { get; }

    /// <summary>The current line: non-blank, valid UTF-8, within the size limit.</summary>
    public ReadOnlySpan<byte> Line => _lines.Line;

    public long LineNumber => _lines.LineNumber;

    public long LineOffset => _lines.LineOffset;

    /// <summary>
    /// Counts the current line as JSON that did not parse (<paramref name="parserMessage"/>): as <c>truncated</c> when it
    /// is the input's last line and no newline ends it (the file was cut off inside it), else as <c>malformed_json</c>.
    /// </summary>
    public void BadJson(string parserMessage)
    {
        if (_lines.LineIsUnterminated)
        {
            Bad.Bad("truncated", LineNumber, LineOffset, $"the input ends inside this line, with no newline after it: it is cut off, not complete JSON ({parserMessage})");
        }
        else
        {
            Bad.Bad("malformed_json", LineNumber, LineOffset, parserMessage);
        }
    }

    /// <summary>True when a bad line was skipped between the previous line and this one.</summary>
    public bool SkippedBadLine { get; private set; }

    public static async Task<JsonLineCursor> OpenAsync(string location, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions options, SourceStatistics statistics, string format, CancellationToken cancellationToken)
    {
        OpenedInput input = await OpenedInput.OpenAsync(location, http, httpOptions, statistics, cancellationToken).ConfigureAwait(false);
        return new JsonLineCursor(input, options, statistics, format);
    }

    /// <summary>Opens an uncompressed file or URL at a line that starts at <paramref name="offset"/> (see <see cref="OpenedInput.OpenAtAsync"/>).</summary>
    public static async Task<JsonLineCursor> OpenAtAsync(string location, long offset, long line, string? validator, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions options, SourceStatistics statistics, string format, CancellationToken cancellationToken) =>
        new(await OpenedInput.OpenAtAsync(location, offset, validator, http, httpOptions, statistics, cancellationToken).ConfigureAwait(false), options, statistics, format, offset, line);

    /// <summary>For a URL, the version label of what is read (see <see cref="OpenedInput.Validator"/>).</summary>
    public string? Validator => _input.Validator;

    /// <summary>True when lines' offsets can be sought again (a local, uncompressed file).</summary>
    public bool IsSeekable => _input.IsSeekable;

    /// <summary>Advances to the next usable line; false at the end of the input.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        SkippedBadLine = false;
        while (true)
        {
            bool more;
            try
            {
                more = await _lines.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw _input.DescribeFailure(ex, _lines.LineNumber + 1);
            }
            if (!more)
            {
                return false;
            }
            _statistics.AddRecord(_lines.LineBytes + 1);
            _statistics.SetRawProgress(_input.RawBytesRead, _input.RawLength);
            if (_lines.LineWasOversized)
            {
                Bad.Bad("oversized", _lines.LineNumber, _lines.LineOffset, $"a line of {_lines.LineBytes} bytes exceeds the {_maxLineBytes}-byte limit");
                SkippedBadLine = true;
                continue;
            }
            ReadOnlySpan<byte> line = _lines.Line;
            if (line.Trim(" \t\r"u8).IsEmpty)
            {
                continue;
            }
            if (!Utf8.IsValid(line))
            {
                Bad.Bad("invalid_utf8", _lines.LineNumber, _lines.LineOffset, "the line is not valid UTF-8");
                SkippedBadLine = true;
                continue;
            }
            return true;
        }
    }

    public void Dispose()
    {
        Strings.Dispose();
        _lines.Dispose();
        _input.Dispose();
    }
}
