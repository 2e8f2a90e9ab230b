using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

public sealed class TokenizerTests
{
    private static int[] Encode(ITextTokenizer tokenizer, string text)
    {
        using var buffer = new TokenBuffer();
        tokenizer.Encode(text, buffer);
        return buffer.Span.ToArray();
    }

    [SkippableFact]
    public void WordPiece_BertVocab_MatchesReferenceIdsAndSpecials()
    {
        ITextTokenizer bert = TokenizerFactory.CreateWordPiece(SharedData.Require(SharedData.BertVocab));

        // bert-base-uncased (as Hugging Face's BertTokenizer gives): "hello world" -> [7592, 2088];
        // "unaffable" -> una ##ffa ##ble.
        Assert.Equal([7592, 2088], Encode(bert, "Hello world"));
        Assert.Equal([14477, 20961, 3468], Encode(bert, "unaffable"));
        Assert.Equal(new SpecialTokens(0, 100, 101, 102, 103), bert.Special with { Sentinels = [] });
        Assert.Equal(30522, bert.VocabularySize);
        Assert.Equal("[MASK]", bert.IdToToken(103));
        Assert.Equal("hello world", bert.Decode([7592, 2088]));
    }

    [Fact]
    public void Tiktoken_Cl100k_MatchesReferenceIdsAndAppendsSpecials()
    {
        ITextTokenizer tiktoken = TokenizerFactory.CreateTiktoken();

        Assert.Equal([9906, 1917], Encode(tiktoken, "Hello world"));
        Assert.Equal(100277, tiktoken.Special.Pad);
        // cl100k's ids end at 100276; [PAD] [UNK] [CLS] [SEP] [MASK] are appended as 100277..100281.
        Assert.Equal(100282, tiktoken.VocabularySize);
        Assert.Equal("[MASK]", tiktoken.IdToToken(tiktoken.Special.Mask));
        Assert.Equal("[CLS]Hello world[SEP]", tiktoken.Decode([tiktoken.Special.Cls, 9906, 1917, tiktoken.Special.Sep]));
        // A literal special-token string in a document stays text.
        Assert.DoesNotContain(100257, Encode(tiktoken, "a <|endoftext|> b"));
    }

    [SkippableFact]
    public void SentencePiece_Albert_UsesItsOwnSpecials()
    {
        // ALBERT's model is uncased and disables BOS/EOS (id -1), which Microsoft.ML.Tokenizers 2.0.1 cannot load unpatched.
        ITextTokenizer sp = TokenizerFactory.CreateSentencePiece(SharedData.Require(SharedData.AlbertModel), lowerCase: true);

        Assert.Equal((0, 1, 2, 3, 4), (sp.Special.Pad, sp.Special.Unknown, sp.Special.Cls, sp.Special.Sep, sp.Special.Mask));
        Assert.Equal(30000, sp.VocabularySize);
        Assert.Equal("[MASK]", sp.IdToToken(4));
        int[] ids = Encode(sp, "Hello world");
        Assert.DoesNotContain(sp.Special.Unknown, ids);
        Assert.Equal("hello world", sp.Decode(ids).Trim());
    }

    [SkippableFact]
    public void Gpt2Bpe_MatchesReferenceIds()
    {
        ITextTokenizer gpt2 = TokenizerFactory.CreateGpt2(SharedData.Require(SharedData.Gpt2Encoder), SharedData.Require(SharedData.Gpt2Merges));

        // GPT-2: "Hello world" -> [15496, 995].
        Assert.Equal([15496, 995], Encode(gpt2, "Hello world"));
        Assert.Equal("Hello world", gpt2.Decode([15496, 995]));
        Assert.True(gpt2.VocabularySize > 50257);
    }

    [SkippableFact]
    public void Encode_TextLongerThanAChunk_GivesTheSameIdsAsOnePiece()
    {
        ITextTokenizer bert = TokenizerFactory.CreateLibraryWordPiece(SharedData.Require(SharedData.BertVocab));
        ITextTokenizer tiktoken = TokenizerFactory.CreateTiktoken();
        string text = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"Sentence {i} talks about tokenization, windows  and\nchunks. "));
        Assert.True(text.Length > 3 * TokenizerAdapter.ChunkChars);

        int[] bertWhole = ((Microsoft.ML.Tokenizers.BertTokenizer)((TokenizerAdapter)bert).Inner).EncodeToIds(text, addSpecialTokens: false).ToArray();
        int[] tiktokenWhole = ((TokenizerAdapter)tiktoken).Inner.EncodeToIds(text).ToArray();

        Assert.Equal(bertWhole, Encode(bert, text));
        Assert.Equal(tiktokenWhole, Encode(tiktoken, text));
    }

    [Fact]
    public void ChunkBoundary_NeverSplitsASurrogatePair()
    {
        string text = string.Concat(Enumerable.Repeat("😀", 100));
        int cut = TokenizerAdapter.ChunkBoundary(text, 51);
        Assert.False(char.IsHighSurrogate(text[cut - 1]));
    }
}
