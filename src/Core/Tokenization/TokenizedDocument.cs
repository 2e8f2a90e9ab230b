using StreamLoader.Core.Documents;

namespace StreamLoader.Core.Tokenization;

/// <summary>A document with its token ids (no special tokens added). Dispose it to return the id buffer to the pool.</summary>
public sealed class TokenizedDocument : IDisposable
{
    private readonly TokenBuffer _ids;
    private readonly Action<TokenBuffer>? _release;
    private int _skipped;

    public TokenizedDocument(Document source, TokenBuffer ids)
        : this(source, ids, null)
    {
    }

    /// <summary>A document whose buffer goes back to <paramref name="release"/> (a pool of buffers) when it is disposed, instead of being disposed.</summary>
    public TokenizedDocument(Document source, TokenBuffer ids, Action<TokenBuffer>? release)
    {
        Source = source;
        _ids = ids;
        _release = release;
    }

    /// <summary>The document the ids came from.</summary>
    public Document Source { get; }

    /// <summary>The token ids.</summary>
    public ReadOnlySpan<int> Ids => _ids.Span[_skipped..];

    /// <summary>Number of ids.</summary>
    public int Count => _ids.Count - _skipped;

    /// <summary>Tokens dropped from the front by <see cref="SkipLeading"/>: a resumed run's first document, part of which was already trained on.</summary>
    public int Skipped => _skipped;

    /// <summary>Drops the first <paramref name="count"/> ids (at most all of them).</summary>
    public void SkipLeading(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _skipped = Math.Min(_ids.Count, _skipped + count);
    }

    public void Dispose()
    {
        if (_release is null)
        {
            _ids.Dispose();
        }
        else
        {
            _release(_ids);
        }
    }
}
