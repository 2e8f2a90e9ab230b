namespace StreamLoader.Provider.Csv;

/// <summary>
/// Splits a delimited text stream into records and fields, byte by byte: RFC 4180 quoting (fields in double quotes may
/// hold delimiters, line breaks and doubled quotes) or none (TSV, where a quote is an ordinary character).
/// </summary>
/// <remarks>Fields are unescaped into one buffer per record; nothing is decoded here, so invalid UTF-8 is the caller's to count.</remarks>
internal sealed class DelimitedRecordReader
{
    private readonly Stream _stream;
    private readonly byte _delimiter;
    private readonly bool _quoted;
    private readonly int _maxRecordBytes;
    private readonly byte[] _input = new byte[1 << 16];
    private int _inputLength;
    private int _inputPosition;
    private long _offset;
    private long _line = 1;
    private byte[] _record = new byte[1 << 12];
    private int _recordLength;
    private readonly List<(int Start, int Length)> _fields = [];

    public DelimitedRecordReader(Stream stream, byte delimiter, bool quoted, int maxRecordBytes, long firstOffset = 0, long firstLine = 1)
    {
        _offset = firstOffset;
        _line = firstLine;
        _stream = stream;
        _delimiter = delimiter;
        _quoted = quoted;
        _maxRecordBytes = maxRecordBytes;
    }

    /// <summary>1-based line on which the current record starts.</summary>
    public long RecordLine { get; private set; }

    /// <summary>Decompressed byte offset at which the current record starts.</summary>
    public long RecordOffset { get; private set; }

    /// <summary>Bytes the current record took in the input.</summary>
    public long RecordBytes { get; private set; }

    /// <summary>The input ended inside a quoted field: the record is incomplete.</summary>
    public bool Unterminated { get; private set; }

    /// <summary>The record was longer than the limit; its fields were not kept.</summary>
    public bool Oversized { get; private set; }

    public int FieldCount => _fields.Count;

    public ReadOnlySpan<byte> Field(int index) => _record.AsSpan(_fields[index].Start, _fields[index].Length);

    /// <summary>Reads the next record; false at the end of the input. Blank lines are skipped.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            _fields.Clear();
            _recordLength = 0;
            Unterminated = false;
            Oversized = false;
            RecordLine = _line;
            RecordOffset = _offset;
            int fieldStart = 0;
            // Where the current field's quoted part ends: a '\r' before it is data, one after it a line break's.
            int quotedEnd = 0;
            bool inQuotes = false;
            bool quoteSeen = false;
            bool any = false;
            while (true)
            {
                if (_inputPosition == _inputLength)
                {
                    _inputLength = await _stream.ReadAsync(_input, cancellationToken).ConfigureAwait(false);
                    _inputPosition = 0;
                    if (_inputLength == 0)
                    {
                        if (!any)
                        {
                            return false;
                        }
                        Unterminated = inQuotes && !quoteSeen;
                        if (quoteSeen)
                        {
                            quotedEnd = _recordLength;
                        }
                        if (!inQuotes || quoteSeen)
                        {
                            StripCarriageReturn(Math.Max(fieldStart, quotedEnd));
                        }
                        EndField(ref fieldStart);
                        RecordBytes = _offset - RecordOffset;
                        return true;
                    }
                }
                byte b = _input[_inputPosition++];
                _offset++;
                any = true;
                if (inQuotes)
                {
                    if (quoteSeen)
                    {
                        quoteSeen = false;
                        if (b == (byte)'"')
                        {
                            Append(b);
                            continue;
                        }
                        inQuotes = false;
                        quotedEnd = _recordLength;
                        // Fall through: the byte after a closing quote is read as outside the quotes.
                    }
                    else if (b == (byte)'"')
                    {
                        quoteSeen = true;
                        continue;
                    }
                    else
                    {
                        if (b == (byte)'\n')
                        {
                            _line++;
                        }
                        Append(b);
                        continue;
                    }
                }
                if (b == _delimiter)
                {
                    EndField(ref fieldStart);
                    quotedEnd = fieldStart;
                }
                else if (b == (byte)'\n')
                {
                    _line++;
                    StripCarriageReturn(Math.Max(fieldStart, quotedEnd));
                    if (_fields.Count == 0 && _recordLength == 0)
                    {
                        // A blank line.
                        RecordLine = _line;
                        RecordOffset = _offset;
                        any = false;
                        continue;
                    }
                    EndField(ref fieldStart);
                    RecordBytes = _offset - RecordOffset;
                    return true;
                }
                else if (b == (byte)'"' && _quoted && _recordLength == fieldStart)
                {
                    inQuotes = true;
                }
                else
                {
                    Append(b);
                }
            }
        }
    }

    // Drops a '\r' that ends the record (CRLF), unless it lies inside the field's quotes (data).
    private void StripCarriageReturn(int dataEnd)
    {
        if (_recordLength > dataEnd && _record[_recordLength - 1] == (byte)'\r')
        {
            _recordLength--;
        }
    }

    private void Append(byte b)
    {
        if (_recordLength == _record.Length)
        {
            if (_record.Length >= _maxRecordBytes)
            {
                Oversized = true;
                return;
            }
            Array.Resize(ref _record, (int)Math.Min(_maxRecordBytes, (long)_record.Length * 2));
        }
        _record[_recordLength++] = b;
    }

    private void EndField(ref int fieldStart)
    {
        int end = _recordLength;
        if (!_quoted && end > fieldStart && _record[end - 1] == (byte)'\r')
        {
            end--;
        }
        _fields.Add((fieldStart, end - fieldStart));
        fieldStart = _recordLength;
    }
}
