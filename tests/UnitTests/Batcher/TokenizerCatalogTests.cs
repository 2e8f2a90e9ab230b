using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Batcher;

/// <summary>The tokenizer families register like source formats: a name, aliases, a probe for <c>auto</c>, and an opener.</summary>
public sealed class TokenizerCatalogTests
{
    [Theory]
    [InlineData("wordpiece", "wordpiece")]
    [InlineData("BERT", "wordpiece")]
    [InlineData("hf", "huggingface")]
    [InlineData("tokenizer.json", "huggingface")]
    [InlineData("cl100k", "tiktoken")]
    [InlineData("spm", "sentencepiece")]
    [InlineData("gpt2", "bpe")]
    public void Find_NameOrAlias_GivesTheFamily(string name, string family) =>
        Assert.Equal(family, TokenizerCatalog.Default.Find(name)?.Name);

    [Fact]
    public void Auto_TheFilesChooseTheFamily()
    {
        using var files = new TempFiles();
        string json = files.WriteText("my-tokenizer.json", """{"version":"1.0","added_tokens":[],"model":{"type":"BPE"}}""");
        string encoder = files.WriteText("encoder.json", """{"hello":0}""");
        TokenizerCatalog catalog = TokenizerCatalog.Default;

        Assert.Equal("tiktoken", catalog.Resolve(new TokenizerSettings()).Name);
        Assert.Equal("wordpiece", catalog.Resolve(new TokenizerSettings { VocabularyPath = "vocab.txt" }).Name);
        Assert.Equal("sentencepiece", catalog.Resolve(new TokenizerSettings { VocabularyPath = "spiece.model" }).Name);
        Assert.Equal("bpe", catalog.Resolve(new TokenizerSettings { VocabularyPath = encoder, MergesPath = "vocab.bpe" }).Name);
        Assert.Equal("huggingface", catalog.Resolve(new TokenizerSettings { VocabularyPath = json }).Name);
        Assert.Equal("huggingface", catalog.Resolve(new TokenizerSettings { VocabularyPath = "models/llama/tokenizer.json" }).Name);
        Assert.Equal("wordpiece", catalog.Resolve(new TokenizerSettings { Family = "bert", VocabularyPath = "spiece.model" }).Name);
    }

    [Fact]
    public void UnknownFamily_ListsTheKnownOnes()
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => TokenizerCatalog.Default.Resolve(new TokenizerSettings { Family = "morfessor" }));
        Assert.Contains("auto, huggingface, wordpiece, tiktoken, sentencepiece, bpe", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingFile_IsNamedWithWhatItWasGivenAs()
    {
        FileNotFoundException error = Assert.Throws<FileNotFoundException>(() => TokenizerCatalog.Default.Create(new TokenizerSettings { VocabularyPath = "/nonexistent/vocab.txt" }));
        Assert.Contains("/nonexistent/vocab.txt: no such file (given as --vocab (a BERT vocab.txt))", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoFamiliesAnsweringToOneName_AreRefused() =>
        Assert.Throws<InvalidOperationException>(() => new TokenizerCatalog([new TiktokenFamily(), new TiktokenFamily()]));
}
