using StreamLoader.Core.Documents;

namespace StreamLoader.Core.Tokenization;

/// <summary>A document with its token ids (no special tokens added). Dispose it to return the id buffer to the pool.</summary>
public sealed class TokenizedDocument : IDisposable
{
    private readonly TokenBuffer _ids;

    public TokenizedDocument(Document source, TokenBuffer ids)
    {
        Source = source;
        _ids = ids;
    }

    /// <summary>The document the ids came from.</summary>
    public Document Source { get; }

    /// <summary>The token ids.</summary>
    public ReadOnlySpan<int> Ids => _ids.Span;

    /// <summary>Number of ids.</summary>
    public int Count => _ids.Count;

    public void Dispose() => _ids.Dispose();
}
