using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>
/// A tiny deterministic tokenizer for algorithm tests that must run without ../shared: each whitespace-separated
/// word maps to 5 + (hash mod (vocabulary − 5)). Ids 0–4 are [PAD] [UNK] [CLS] [SEP] [MASK].
/// </summary>
public sealed class TestTokenizer : ITextTokenizer
{
    public TestTokenizer(int vocabularySize = 1000)
    {
        VocabularySize = vocabularySize;
    }

    public string Name => "test-words";

    public int VocabularySize { get; }

    public SpecialTokens Special { get; } = new(Pad: 0, Unknown: 1, Cls: 2, Sep: 3, Mask: 4);

    public void Encode(ReadOnlySpan<char> text, TokenBuffer output)
    {
        foreach (Range range in text.Split(' '))
        {
            ReadOnlySpan<char> word = text[range];
            if (word.IsEmpty)
            {
                continue;
            }
            uint hash = 2166136261;
            foreach (char c in word)
            {
                hash = (hash ^ c) * 16777619;
            }
            output.Add(5 + (int)(hash % (uint)(VocabularySize - 5)));
        }
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var parts = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            parts.Add(IdToToken(id));
        }
        return string.Join(' ', parts);
    }

    public string IdToToken(int id) => id switch
    {
        0 => "[PAD]",
        1 => "[UNK]",
        2 => "[CLS]",
        3 => "[SEP]",
        4 => "[MASK]",
        _ => $"w{id}",
    };

    /// <summary>A document of <paramref name="words"/> distinct-ish words.</summary>
    public static string Words(int words, int salt = 0) => string.Join(' ', Enumerable.Range(0, words).Select(i => $"word{(i * 7919 + salt) % 100003}"));
}
