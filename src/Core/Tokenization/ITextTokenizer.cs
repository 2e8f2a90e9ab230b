namespace StreamLoader.Core.Tokenization;

/// <summary>A tokenizer as tasks see it: text to ids, ids to text, and the ids of the special tokens.</summary>
/// <remarks>Implementations must be safe to call from several threads at once.</remarks>
public interface ITextTokenizer
{
    /// <summary>A short name for reports ("wordpiece:bert-base-uncased-vocab.txt").</summary>
    string Name { get; }

    /// <summary>Number of ids, including special tokens the adapter added. Every id is below this.</summary>
    int VocabularySize { get; }

    /// <summary>Ids of the special tokens tasks use.</summary>
    SpecialTokens Special { get; }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="output"/>, without special tokens.</summary>
    void Encode(ReadOnlySpan<char> text, TokenBuffer output);

    /// <summary>Turns ids back into text; special tokens appear by name.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>The text of one id ("[MASK]", "##ing", " the").</summary>
    string IdToToken(int id);

    /// <summary>The id of a whole token of the vocabulary ("[SEP]", "&lt;extra_id_0&gt;"), or -1 when it has none.</summary>
    int FindToken(string token) => -1;
}
