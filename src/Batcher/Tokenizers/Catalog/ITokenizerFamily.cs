using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.Catalog;

/// <summary>
/// One tokenizer family the batcher builds: its name and aliases (<c>--tokenizer</c>), how sure it is that the given
/// files are its own (for <c>--tokenizer auto</c>), and how to open them. Adding a family is one of these, registered in
/// <see cref="TokenizerCatalog.Default"/>, shaped like the provider's source formats.
/// </summary>
public interface ITokenizerFamily
{
    /// <summary>The name <c>--tokenizer</c> takes (lower case).</summary>
    string Name { get; }

    /// <summary>Other names <c>--tokenizer</c> accepts.</summary>
    IReadOnlyList<string> Aliases { get; }

    /// <summary>One line for <c>--help</c>: what it reads.</summary>
    string Summary { get; }

    /// <summary>
    /// How sure the family is that <paramref name="settings"/>' files are its own: 0 for not at all, else a confidence
    /// the catalog compares with the other families' (the highest wins; 3 for a file's own marker, 1 for a fallback).
    /// </summary>
    int Probe(TokenizerSettings settings);

    /// <summary>Builds the tokenizer; a missing or malformed file is an error naming it and what it was given as.</summary>
    ITextTokenizer Open(TokenizerSettings settings);
}
