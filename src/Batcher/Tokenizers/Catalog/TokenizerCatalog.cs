using StreamLoader.Core.Plugins;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.Catalog;

/// <summary>The tokenizer families, found by name or alias, or chosen from the files given (<c>--tokenizer auto</c>).</summary>
public sealed class TokenizerCatalog
{
    /// <summary>The name that lets the files choose the family.</summary>
    public const string Auto = "auto";

    private readonly Dictionary<string, ITokenizerFamily> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A catalog of <paramref name="families"/>; two with one name or alias is an error.</summary>
    public TokenizerCatalog(IEnumerable<ITokenizerFamily> families)
    {
        ArgumentNullException.ThrowIfNull(families);
        Families = [.. families];
        foreach (ITokenizerFamily family in Families)
        {
            foreach (string name in (string[])[family.Name, .. family.Aliases])
            {
                if (!_byName.TryAdd(name, family))
                {
                    throw new InvalidOperationException($"Tokenizer families {_byName[name].Name} and {family.Name} both answer to '{name}'.");
                }
            }
        }
    }

    /// <summary>The families StreamLoader ships: one registration each.</summary>
    public static TokenizerCatalog Default { get; } = new(
    [
        new HuggingFace.HuggingFaceTokenizerFamily(),
        new WordPiece.WordPieceFamily(),
        new TiktokenFamily(),
        new SentencePieceFamily(),
        new Gpt2BpeFamily(),
    ]);

    /// <summary>Every family, in registration order.</summary>
    public IReadOnlyList<ITokenizerFamily> Families { get; }

    /// <summary>The names <c>--tokenizer</c> takes, for help and errors ("auto, huggingface, wordpiece, …").</summary>
    public string Names => string.Join(", ", [Auto, .. Families.Select(f => f.Name)]);

    /// <summary>The family named <paramref name="name"/> (or an alias), or null; <see cref="Auto"/> is not a family.</summary>
    public ITokenizerFamily? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The family <paramref name="settings"/> name, or, for <see cref="Auto"/>, the one surest of its files.</summary>
    public ITokenizerFamily Resolve(TokenizerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!string.Equals(settings.Family, Auto, StringComparison.OrdinalIgnoreCase))
        {
            return Find(settings.Family) ?? throw new ArgumentException($"Unknown tokenizer '{settings.Family}'. Known: {Names}.");
        }
        return PluginTypes.MostConfident(Families, f => f.Probe(settings)) ?? throw new ArgumentException($"No tokenizer family recognises {settings.VocabularyPath ?? "the settings"}; name one with --tokenizer ({Names}).");
    }

    /// <summary>Builds the tokenizer <paramref name="settings"/> describe.</summary>
    public ITextTokenizer Create(TokenizerSettings settings) => Resolve(settings).Open(settings);
}
