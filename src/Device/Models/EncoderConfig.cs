namespace StreamLoader.Device.Models;

/// <summary>Shape of a transformer encoder. Presets: tiny (tests, CPU demos), small, base (BERT-base).</summary>
public sealed record EncoderConfig(int VocabularySize, int Hidden, int Layers, int Heads, int FeedForward, int MaxPositions, double Dropout)
{
    /// <summary>Builds a preset by name for a vocabulary and sequence length.</summary>
    public static EncoderConfig Preset(string name, int vocabularySize, int maxPositions) => name.ToLowerInvariant() switch
    {
        "micro" => new EncoderConfig(vocabularySize, 32, 1, 2, 64, maxPositions, 0.0),
        "tiny" => new EncoderConfig(vocabularySize, 128, 2, 4, 512, maxPositions, 0.1),
        "small" => new EncoderConfig(vocabularySize, 256, 4, 4, 1024, maxPositions, 0.1),
        "base" => new EncoderConfig(vocabularySize, 768, 12, 12, 3072, maxPositions, 0.1),
        _ => throw new ArgumentException($"Unknown model size '{name}'. Sizes: micro, tiny, small, base.", nameof(name)),
    };

    /// <summary>Throws when the shape is inconsistent.</summary>
    public void Validate()
    {
        if (Hidden % Heads != 0)
        {
            throw new ArgumentException($"The hidden size {Hidden} must be a multiple of the head count {Heads}.");
        }
        if (VocabularySize < 2 || MaxPositions < 1 || Layers < 1)
        {
            throw new ArgumentException($"Invalid encoder shape: {this}.");
        }
    }
}
