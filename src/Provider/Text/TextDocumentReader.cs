using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Http;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Text;

/// <summary>What one document of a plain-text file is.</summary>
public enum TextSplit
{
    /// <summary>The whole file.</summary>
    File,

    /// <summary>A run of non-blank lines: blank lines separate documents.</summary>
    Paragraph,

    /// <summary>Each non-blank line.</summary>
    Line,
}

/// <summary>Settings for <see cref="TextDocumentReader"/>.</summary>
public sealed record TextOptions
{
    /// <summary>What one document is.</summary>
    public TextSplit Split { get; init; } = TextSplit.File;

    /// <summary>Bad-record policy and the line size limit.</summary>
    public LineReaderOptions Lines { get; init; } = new();

    /// <summary>HTTP resume settings when the location is a URL.</summary>
    public HttpReadOptions Http { get; init; } = new();
}

/// <summary>
/// Streams plain UTF-8 text as documents — a file, its paragraphs or its lines — plain or gzip/bzip2/zstd, from disk or
/// over HTTP(S). A document's lines keep their line breaks (<c>\n</c>); its id is the line it starts on (the file's
/// name for a whole file).
/// </summary>
/// <remarks>
/// Lines that are not valid UTF-8 or exceed the size limit are left out of their document and counted with their line
/// and byte offset (or, with <see cref="BadRecordPolicy.Fail"/>, stop the read). Paragraphs and lines of a local,
/// uncompressed file can be sought again, as JSON Lines' records can.
/// </remarks>
public sealed class TextDocumentReader : ISeekableSource
{
    private readonly string _location;
    private readonly TextOptions _options;
    private readonly HttpClient? _http;
    private readonly Lazy<string> _fingerprint;

    public TextDocumentReader(string location, TextOptions? options = null, HttpClient? http = null, SourceStatistics? statistics = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        _location = location;
        _options = options ?? new TextOptions();
        _http = http;
        Statistics = statistics ?? new SourceStatistics();
        // PublicationOnly: a missing file is not remembered as missing once it appears.
        _fingerprint = new Lazy<string>(() => $"text|{InputIdentity.Describe(location)}|split={_options.Split.ToString().ToLowerInvariant()}", LazyThreadSafetyMode.PublicationOnly);
    }

    public string Description => $"text:{_location}";

    /// <summary>What the input is (see <see cref="InputIdentity.Describe"/>) and how it is split into documents.</summary>
    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>True once reading has found an input whose lines a resume can seek to (local and uncompressed, or a URL that takes ranges).</summary>
    public bool CanSeek { get; private set; }

    /// <summary>The version label of a URL being read, known once reading has begun.</summary>
    public string? SeekValidator { get; private set; }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using OpenedInput input = await OpenedInput.OpenAsync(_location, _http, _options.Http, Statistics, cancellationToken: cancellationToken).ConfigureAwait(false);
        await foreach (Document document in ReadDocumentsAsync(input, 0, 1, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    public async IAsyncEnumerable<Document> ReadFromAsync(long offset, long line, string? validator, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using OpenedInput input = await OpenedInput.OpenAtAsync(_location, offset, validator, _http, _options.Http, Statistics, cancellationToken).ConfigureAwait(false);
        await foreach (Document document in ReadDocumentsAsync(input, offset, line, cancellationToken).ConfigureAwait(false))
        {
            yield return document;
        }
    }

    private async IAsyncEnumerable<Document> ReadDocumentsAsync(OpenedInput input, long firstOffset, long firstLine, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _ = Fingerprint;
        // A whole file is one document, read from its start: it has no record to seek to.
        bool seekable = CanSeek = input.IsSeekable && _options.Split != TextSplit.File;
        SeekValidator = input.Validator;
        var bad = new BadRecordTracker(input.Name, "text", _options.Lines, Statistics);
        using var lines = new Utf8LineReader(input.Content, _options.Lines.MaxLineBytes, firstOffset: firstOffset, firstLine: firstLine);
        var text = new StringBuilder();
        char[] chars = ArrayPool<char>.Shared.Rent(1024);
        long startLine = 0;
        long startOffset = -1;
        long gatheredBytes = 0;
        bool tooLong = false; // the document being read is past the size limit: its lines are passed over
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    throw input.DescribeFailure(ex, lines.LineNumber + 1);
                }
                if (!more)
                {
                    break;
                }
                Statistics.AddRecord(lines.LineBytes + 1);
                Statistics.SetRawProgress(input.RawBytesRead, input.RawLength);
                if (lines.LineWasOversized)
                {
                    bad.Bad("oversized", lines.LineNumber, lines.LineOffset, $"a line of {lines.LineBytes} bytes exceeds the {_options.Lines.MaxLineBytes}-byte limit");
                    continue;
                }
                ReadOnlySpan<byte> line = lines.Line;
                if (_options.Split == TextSplit.Paragraph && line.Trim(" \t\r"u8).IsEmpty)
                {
                    // The end of a paragraph; a blank line is no document of its own (one per line counts it as empty).
                    tooLong = false;
                    if (startOffset >= 0 && Finish(text, startLine, startOffset, seekable, input.Name) is { } paragraph)
                    {
                        yield return paragraph;
                    }
                    continue;
                }
                if (tooLong)
                {
                    continue;
                }
                if (startOffset >= 0 && gatheredBytes + line.Length > _options.Lines.MaxLineBytes)
                {
                    // A document past the size limit (a whole file of gigabytes, say) is counted, not built.
                    bad.Bad("oversized", startLine, startOffset, $"a document of more than {_options.Lines.MaxLineBytes} bytes{(_options.Split == TextSplit.File ? " (give --split-on paragraph or line for smaller ones)" : string.Empty)}");
                    text.Clear();
                    startOffset = -1;
                    tooLong = true;
                    continue;
                }
                if (!Utf8.IsValid(line))
                {
                    bad.Bad("invalid_utf8", lines.LineNumber, lines.LineOffset, "the line is not valid UTF-8; it is left out of its document");
                    continue;
                }
                bad.Good();
                if (startOffset < 0)
                {
                    (startLine, startOffset, gatheredBytes) = (lines.LineNumber, lines.LineOffset, 0);
                }
                else
                {
                    text.Append('\n');
                }
                gatheredBytes += line.Length + 1;
                if (chars.Length < line.Length)
                {
                    ArrayPool<char>.Shared.Return(chars);
                    chars = ArrayPool<char>.Shared.Rent(line.Length);
                }
                int decoded = Encoding.UTF8.GetChars(line, chars);
                text.Append(chars, 0, decoded);
                if (_options.Split == TextSplit.Line)
                {
                    if (Finish(text, startLine, startOffset, seekable, input.Name) is { } single)
                    {
                        yield return single;
                    }
                    continue;
                }
            }
            if (startOffset >= 0 && Finish(text, startLine, startOffset, seekable, input.Name) is { } last)
            {
                yield return last;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }

        // Hands out what was gathered as a document (or counts it as empty), and starts the next one.
        Document? Finish(StringBuilder gathered, long line, long offset, bool canSeek, string name)
        {
            string content = gathered.ToString();
            gathered.Clear();
            startOffset = -1;
            string id = _options.Split == TextSplit.File ? Path.GetFileName(name) : line.ToString(CultureInfo.InvariantCulture);
            if (string.IsNullOrWhiteSpace(content) && !_options.Lines.KeepEmptyText)
            {
                Statistics.AddSkip("empty_text", $"{_location}: line {line}: document {id} has empty text");
                return null;
            }
            Statistics.AddYielded();
            return new Document(id, content) { SourceOffset = canSeek ? offset : -1, SourceLine = line };
        }
    }
}
