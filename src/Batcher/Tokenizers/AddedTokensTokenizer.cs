using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>
/// A tokenizer with the special tokens a task declared (<see cref="Core.Tasks.ITrainingTask.AddedSpecialTokens"/>):
/// each takes the vocabulary's id where the vocabulary has it, else a new id after the last one. Text is encoded by the
/// inner tokenizer unchanged; a literal "&lt;extra_id_0&gt;" in a document stays text.
/// </summary>
public sealed class AddedTokensTokenizer : ITextTokenizer
{
    private readonly ITextTokenizer _inner;
    private readonly string[] _appended;
    private readonly Dictionary<string, int> _ids;

    private AddedTokensTokenizer(ITextTokenizer inner, IReadOnlyList<string> tokens)
    {
        _inner = inner;
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        var appended = new List<string>();
        var ids = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            int id = inner.FindToken(tokens[i]);
            if (id < 0)
            {
                id = inner.VocabularySize + appended.Count;
                appended.Add(tokens[i]);
            }
            ids[i] = id;
            _ids[tokens[i]] = id;
        }
        _appended = appended.ToArray();
        VocabularySize = inner.VocabularySize + _appended.Length;
        Special = inner.Special with { Sentinels = ids };
        Name = _appended.Length == 0 ? inner.Name : $"{inner.Name}+{_appended.Length}added";
    }

    /// <summary><paramref name="inner"/> with <paramref name="tokens"/> resolved or added; <paramref name="inner"/> itself when there are none.</summary>
    /// <remarks>The added ids become <see cref="SpecialTokens.Sentinels"/>, in the order given.</remarks>
    public static ITextTokenizer Wrap(ITextTokenizer inner, IReadOnlyList<string> tokens) =>
        tokens.Count == 0 ? inner : new AddedTokensTokenizer(inner, tokens);

    public string Name { get; }

    public int VocabularySize { get; }

    public SpecialTokens Special { get; }

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output) => _inner.Encode(text, output);

    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new System.Text.StringBuilder();
        int start = 0;
        for (int i = 0; i <= ids.Length; i++)
        {
            if (i == ids.Length || ids[i] >= _inner.VocabularySize)
            {
                if (i > start)
                {
                    if (text.Length > 0)
                    {
                        text.Append(' ');
                    }
                    text.Append(_inner.Decode(ids[start..i]));
                }
                if (i < ids.Length)
                {
                    if (text.Length > 0)
                    {
                        text.Append(' ');
                    }
                    text.Append(IdToToken(ids[i]));
                }
                start = i + 1;
            }
        }
        return text.ToString();
    }

    public string IdToToken(int id) => id >= _inner.VocabularySize && id < VocabularySize ? _appended[id - _inner.VocabularySize] : _inner.IdToToken(id);

    public int FindToken(string token) => _ids.TryGetValue(token, out int id) ? id : _inner.FindToken(token);
}
