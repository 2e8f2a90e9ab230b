using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Common;

/// <summary>One token of a packed stream: its id, the document it belongs to and where in that document it sits.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Document">A counter that changes with each document (for boundaries; not the ordinal).</param>
/// <param name="Ordinal">The document's ordinal in the stream.</param>
/// <param name="Offset">The token's index in the whole document (a separator: the document's length).</param>
public readonly record struct PackedToken(int Id, int Document, long Ordinal, long Offset);

/// <summary>
/// Packs documents back to back, each followed by a separator, so rows are cut from one stream of tokens and carry no
/// padding until the stream ends. Tracks where every pending token came from, so a batch can say exactly where a resumed
/// run continues (a separator still pending resumes as "document d, offset = its length").
/// </summary>
public sealed class TokenPacker
{
    private readonly int _separator;
    private PackedToken[] _tokens = new PackedToken[1024];
    private int _start;
    private int _count;
    private int _documents;
    private long _lastOrdinal = -1;

    /// <param name="separator">The id appended after each document, or -1 for none.</param>
    public TokenPacker(int separator)
    {
        _separator = separator;
    }

    /// <summary>Tokens waiting to be taken.</summary>
    public int Pending => _count;

    /// <summary>The pending tokens, oldest first.</summary>
    public ReadOnlySpan<PackedToken> Tokens => _tokens.AsSpan(_start, _count);

    /// <summary>
    /// Appends a document's ids and the separator. A document with no ids is skipped, unless its ids were all consumed
    /// before a resume (<see cref="TokenizedDocument.Skipped"/>): then only its separator was still owed.
    /// </summary>
    public void Add(TokenizedDocument document)
    {
        if (document.Count == 0 && document.Skipped == 0)
        {
            return;
        }
        long ordinal = document.Source.Ordinal;
        _lastOrdinal = ordinal;
        int extra = _separator >= 0 ? 1 : 0;
        Reserve(document.Count + extra);
        ReadOnlySpan<int> ids = document.Ids;
        int at = _start + _count;
        for (int i = 0; i < ids.Length; i++)
        {
            _tokens[at++] = new PackedToken(ids[i], _documents, ordinal, document.Skipped + i);
        }
        if (extra == 1)
        {
            _tokens[at++] = new PackedToken(_separator, _documents, ordinal, document.Skipped + ids.Length);
        }
        _count = at - _start;
        _documents++;
    }

    /// <summary>Drops the oldest <paramref name="count"/> tokens (taken into a row).</summary>
    public void Drop(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _count);
        _start += count;
        _count -= count;
        if (_count == 0)
        {
            _start = 0;
        }
    }

    /// <summary>
    /// Where a run resumed after the tokens dropped so far continues: the oldest pending token's document and offset,
    /// or the document after the last one added when nothing is pending.
    /// </summary>
    public (long Ordinal, long Offset) ResumePoint => _count > 0 ? (_tokens[_start].Ordinal, _tokens[_start].Offset) : (_lastOrdinal + 1, 0);

    private void Reserve(int more)
    {
        if (_start + _count + more <= _tokens.Length)
        {
            return;
        }
        if (_count + more <= _tokens.Length / 2)
        {
            Array.Copy(_tokens, _start, _tokens, 0, _count);
        }
        else
        {
            var grown = new PackedToken[Math.Max(_tokens.Length * 2, _count + more)];
            Array.Copy(_tokens, _start, grown, 0, _count);
            _tokens = grown;
        }
        _start = 0;
    }
}
