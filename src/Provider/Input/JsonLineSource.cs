using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Unicode;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Decoding;
using StreamLoader.Provider.Http;

namespace StreamLoader.Provider.Input;

/// <summary>
/// The reader kit's base for a format whose records are JSON lines (JSON Lines, CirrusSearch dumps): opening the input
/// (local or over HTTP, plain or compressed), starting at a saved line for a resume, the input's identity, and what a
/// resume learns while reading (whether the input can be sought in, the URL's version). It splits the work in two: the
/// serial stage frames lines (<see cref="JsonLineCursor.FrameAsync{T}"/>), workers check each line's UTF-8 and parse
/// it (<see cref="Parse"/>, <see cref="OrderedDecode"/>), and the lines come back in order to become documents
/// (<see cref="StartReading"/>), where skips are counted as a serial reader would count them.
/// </summary>
/// <typeparam name="TLine">The format's reading of one line.</typeparam>
public abstract class JsonLineSource<TLine> : ISeekableSource
{
    private readonly HttpClient? _http;
    private readonly HttpReadOptions _httpOptions;
    private readonly LineReaderOptions _lines;
    private readonly string _what;
    private readonly Lazy<string> _fingerprint;

    /// <param name="location">The path or URL.</param>
    /// <param name="http">The client for URLs, or null for the provider's own.</param>
    /// <param name="httpOptions">HTTP resume settings.</param>
    /// <param name="lines">Line handling (record limit, bad-record policy, decode threads).</param>
    /// <param name="statistics">Counters to count into, or null for the source's own.</param>
    /// <param name="what">The format as errors name it ("JSON Lines", "a CirrusSearch dump").</param>
    /// <param name="fingerprint">The source's identity from the input's (<see cref="InputIdentity.Describe"/>): its format and the settings that change what it yields.</param>
    private protected JsonLineSource(string location, HttpClient? http, HttpReadOptions httpOptions, LineReaderOptions lines, SourceStatistics? statistics, string what, Func<string, string> fingerprint)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        Location = location;
        _http = http;
        _httpOptions = httpOptions;
        _lines = lines;
        _what = what;
        Statistics = statistics ?? new SourceStatistics();
        // PublicationOnly: a missing file is not remembered as missing once it appears.
        _fingerprint = new Lazy<string>(() => fingerprint(InputIdentity.Describe(location)), LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The path or URL read.</summary>
    protected string Location { get; }

    public abstract string Description { get; }

    /// <summary>
    /// What the input is (see <see cref="InputIdentity.Describe"/>, so the same file under another name matches) and
    /// the settings that change what it yields. Worked out once, on first use; fails with
    /// <see cref="FileNotFoundException"/> for a missing file.
    /// </summary>
    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>True once reading has found a local, uncompressed file, whose records a resume can seek to.</summary>
    public bool CanSeek { get; private set; }

    /// <summary>The version label of a URL being read (its ETag or Last-Modified), known once reading has begun.</summary>
    public string? SeekValidator { get; private set; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using JsonLineCursor lines = await JsonLineCursor.OpenAsync(Location, _http, _httpOptions, _lines, Statistics, _what, cancellationToken).ConfigureAwait(false);
        await foreach (Document document in RecordsAsync(lines, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    /// <summary>Reads from the record that starts at <paramref name="offset"/> (line <paramref name="line"/>).</summary>
    public async IAsyncEnumerable<Document> ReadFromAsync(long offset, long line, string? validator, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using JsonLineCursor lines = await JsonLineCursor.OpenAtAsync(Location, offset, line, validator, _http, _httpOptions, _lines, Statistics, _what, cancellationToken).ConfigureAwait(false);
        await foreach (Document document in RecordsAsync(lines, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    private async IAsyncEnumerable<Document> RecordsAsync(JsonLineCursor lines, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Describe the input as it is being read, so a position saved later names this input.
        _ = Fingerprint;
        CanSeek = lines.IsSeekable;
        SeekValidator = lines.Validator;
        IAsyncEnumerable<LineChunk<TLine>> framed = lines.FrameAsync<TLine>(cancellationToken);
        if (_lines.SerialStageOnly)
        {
            // Measuring the serial stage: every framed line is handed on undecoded, as a stand-in.
            await foreach (LineChunk<TLine> chunk in framed.ConfigureAwait(false))
            {
                using (chunk)
                {
                    for (int i = 0; i < chunk.Count; i++)
                    {
                        yield return SerialStage.Record;
                    }
                }
            }
            yield break;
        }
        bool seekable = lines.IsSeekable;
        LineReading reading = StartReading();
        await foreach (LineChunk<TLine> chunk in OrderedDecode.RunAsync(framed, DecodeChunk, _lines.DecodeThreadCount, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                for (int i = 0; i < chunk.Count; i++)
                {
                    if (chunk.Lines[i].State != LineState.Parsed)
                    {
                        lines.CountBadLine(chunk.Lines[i]);
                        reading.SkippedLine();
                        continue;
                    }
                    ref FramedLine line = ref chunk.Lines[i];
                    if (reading.Apply(new LineRecord(chunk.Bytes(i), line.Number, line.Offset, lines.Bad, seekable), ref chunk.Parsed[i]) is { } document)
                    {
                        yield return document;
                    }
                }
            }
            finally
            {
                chunk.Dispose();
            }
        }
    }

    /// <summary>A worker's part: checks each line's UTF-8 and parses it, through one string buffer for the chunk.</summary>
    private void DecodeChunk(LineChunk<TLine> chunk)
    {
        using var strings = new JsonStringDecoder();
        for (int i = 0; i < chunk.Count; i++)
        {
            ref FramedLine line = ref chunk.Lines[i];
            if (line.State != LineState.Framed)
            {
                continue;
            }
            ReadOnlySpan<byte> bytes = chunk.Bytes(i);
            if (!Utf8.IsValid(bytes))
            {
                line.State = LineState.InvalidUtf8;
                continue;
            }
            try
            {
                chunk.Parsed[i] = Parse(bytes, strings);
                line.State = LineState.Parsed;
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or OverflowException)
            {
                line.State = LineState.Malformed;
                line.Error = ex.Message;
            }
        }
    }

    /// <summary>
    /// Parses one line, on a decode worker: it must touch nothing but its arguments and the reader's immutable
    /// settings. A <see cref="JsonException"/>, <see cref="FormatException"/>, <see cref="InvalidOperationException"/>
    /// or <see cref="OverflowException"/> counts the line as malformed JSON.
    /// </summary>
    /// <param name="line">The line, valid UTF-8, without its line break.</param>
    /// <param name="strings">Decodes string values through one buffer.</param>
    private protected abstract TLine Parse(ReadOnlySpan<byte> line, JsonStringDecoder strings);

    /// <summary>Starts one read's turning of parsed lines into documents (a format that pairs lines keeps its state there).</summary>
    private protected abstract LineReading StartReading();

    /// <summary>One read's serial part: parsed lines, in input order on one thread, become documents.</summary>
    private protected abstract class LineReading
    {
        /// <summary>
        /// Turns a parsed line into a document, or counts why not (<see cref="LineRecord.Bad"/>, the source's
        /// statistics) and returns null.
        /// </summary>
        public abstract Document? Apply(in LineRecord line, ref TLine parsed);

        /// <summary>Called in order for each line that was counted as bad, so a reading that keeps state across lines can drop it.</summary>
        public virtual void SkippedLine()
        {
        }
    }

    /// <summary>What <see cref="LineReading.Apply"/> knows of the line it is given, besides the format's parse.</summary>
    private protected readonly ref struct LineRecord
    {
        internal LineRecord(ReadOnlySpan<byte> bytes, long number, long offset, BadRecordTracker bad, bool seekable)
        {
            Bytes = bytes;
            Number = number;
            Offset = offset;
            Bad = bad;
            IsSeekable = seekable;
        }

        /// <summary>The line's bytes (for an error message).</summary>
        public ReadOnlySpan<byte> Bytes { get; }

        /// <summary>1-based line number.</summary>
        public long Number { get; }

        /// <summary>Byte offset where the line starts in the decompressed input.</summary>
        public long Offset { get; }

        /// <summary>Counts bad records with the input's policy.</summary>
        internal BadRecordTracker Bad { get; }

        /// <summary>True when the line's offset can be sought again (a local, uncompressed file).</summary>
        public bool IsSeekable { get; }
    }
}
