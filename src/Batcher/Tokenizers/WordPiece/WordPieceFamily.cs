using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.WordPiece;

/// <summary>BERT WordPiece from a vocab.txt, with Hugging Face's ids exactly (<see cref="BertWordPieceTokenizer"/>).</summary>
public sealed class WordPieceFamily : ITokenizerFamily
{
    public string Name => "wordpiece";

    public IReadOnlyList<string> Aliases { get; } = ["bert"];

    public string Summary => "BERT WordPiece from a vocab.txt (lower-cased and accents stripped, as bert-base-uncased, unless --lower-case false).";

    /// <summary>Any other vocabulary file: the fallback of <c>auto</c>.</summary>
    public int Probe(TokenizerSettings settings) => settings.VocabularyPath is null ? 0 : 1;

    public ITextTokenizer Open(TokenizerSettings settings) =>
        BertWordPieceTokenizer.Create(TokenizerFiles.Require(settings.VocabularyPath, "--vocab (a BERT vocab.txt)"), settings.LowerCase ?? true);
}
