using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>OpenAI tiktoken (cl100k_base ships in a NuGet data package, so it works offline), over Microsoft.ML.Tokenizers.</summary>
public sealed class TiktokenFamily : ITokenizerFamily
{
    public string Name => "tiktoken";

    public IReadOnlyList<string> Aliases { get; } = ["cl100k"];

    public string Summary => "OpenAI tiktoken cl100k_base, built in (the choice when no vocabulary file is given).";

    public int Probe(TokenizerSettings settings) => settings.VocabularyPath is null ? 3 : 0;

    public ITextTokenizer Open(TokenizerSettings settings) => TokenizerFactory.CreateTiktoken(settings.TiktokenModel);
}

/// <summary>SentencePiece (Unigram or BPE) from a <c>.model</c> file, over Microsoft.ML.Tokenizers.</summary>
public sealed class SentencePieceFamily : ITokenizerFamily
{
    public string Name => "sentencepiece";

    public IReadOnlyList<string> Aliases { get; } = ["spm"];

    public string Summary => "SentencePiece (Unigram or BPE) from a .model file.";

    public int Probe(TokenizerSettings settings) => settings.VocabularyPath?.EndsWith(".model", StringComparison.OrdinalIgnoreCase) == true ? 2 : 0;

    public ITextTokenizer Open(TokenizerSettings settings) =>
        TokenizerFactory.CreateSentencePiece(TokenizerFiles.Require(settings.VocabularyPath, "--vocab (a SentencePiece .model)"), settings.LowerCase ?? false);
}

/// <summary>GPT-2 byte-level BPE from encoder.json and vocab.bpe, over Microsoft.ML.Tokenizers.</summary>
public sealed class Gpt2BpeFamily : ITokenizerFamily
{
    public string Name => "bpe";

    public IReadOnlyList<string> Aliases { get; } = ["gpt2"];

    public string Summary => "GPT-2 byte-level BPE from encoder.json (--vocab) and vocab.bpe (--merges).";

    public int Probe(TokenizerSettings settings) =>
        settings.VocabularyPath is { } vocab && (vocab.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || settings.MergesPath is not null) ? 2 : 0;

    public ITextTokenizer Open(TokenizerSettings settings) =>
        TokenizerFactory.CreateGpt2(TokenizerFiles.Require(settings.VocabularyPath, "--vocab (GPT-2 encoder.json)"), TokenizerFiles.Require(settings.MergesPath, "--merges (GPT-2 vocab.bpe)"));
}

/// <summary>What the families share about the files they are given.</summary>
public static class TokenizerFiles
{
    /// <summary><paramref name="path"/>, which must be given and exist; the error says what it was given as.</summary>
    public static string Require(string? path, string what)
    {
        if (path is null)
        {
            throw new ArgumentException($"This tokenizer needs {what}.");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file (given as {what}).", path);
        }
        return path;
    }
}
