using StreamLoader.Batcher.Tokenizers.WordPiece;

namespace StreamLoader.Tests.Batcher;

/// <summary>The WordPiece vocabulary table answers exactly as a dictionary of the same tokens does.</summary>
public sealed class TokenTableTests
{
    [Fact]
    public void TryGetValue_AgreesWithADictionary_ForEveryTokenItsPrefixesAndStrangers()
    {
        var random = new Random(7);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzé中#[]";
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        while (tokens.Count < 20_000)
        {
            int length = 1 + random.Next(12);
            string token = new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            tokens.TryAdd(token, tokens.Count * 3);
        }
        var table = new TokenTable(tokens);

        Assert.Equal(tokens.Count, table.Count);
        foreach ((string token, int id) in tokens)
        {
            Assert.True(table.TryGetValue(token, out int found), token);
            Assert.Equal(id, found);
            // Every prefix, and the token with one more character: present exactly when the dictionary has them.
            for (int end = 0; end <= token.Length; end++)
            {
                string prefix = token[..end];
                Assert.Equal(tokens.TryGetValue(prefix, out int expected) ? expected : -1, table.TryGetValue(prefix, out int got) ? got : -1);
            }
            string longer = token + "x";
            Assert.Equal(tokens.TryGetValue(longer, out int e2) ? e2 : -1, table.TryGetValue(longer, out int g2) ? g2 : -1);
        }
    }

    [Fact]
    public void TryGetValue_EmptyTableAndEmptyKey()
    {
        var table = new TokenTable(new Dictionary<string, int>());
        Assert.False(table.TryGetValue("a", out int id));
        Assert.Equal(-1, id);
        Assert.False(table.TryGetValue(ReadOnlySpan<char>.Empty, out _));
        Assert.True(new TokenTable(new Dictionary<string, int> { [""] = 5 }).TryGetValue(ReadOnlySpan<char>.Empty, out int empty));
        Assert.Equal(5, empty);
    }

    [Fact]
    public void Constructor_SameTokenTwice_Throws()
    {
        KeyValuePair<string, int>[] twice = [new("ab", 1), new("ab", 2)];
        Assert.Throws<ArgumentException>(() => new TokenTable(twice));
    }
}
