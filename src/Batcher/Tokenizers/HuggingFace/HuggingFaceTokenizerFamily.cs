using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>A Hugging Face <c>tokenizer.json</c> (or a model folder holding one), run as the <c>tokenizers</c> library runs it.</summary>
public sealed class HuggingFaceTokenizerFamily : ITokenizerFamily
{
    public string Name => "huggingface";

    public IReadOnlyList<string> Aliases { get; } = ["hf", "tokenizer.json"];

    public string Summary => "A Hugging Face tokenizer.json or a model folder holding one (Llama 3, Qwen3, Gemma 3, GPT-4o, DeepSeek V3, Llama 2: their ids exactly).";

    /// <summary>Certain for a file named or reading as a tokenizer.json, or a folder holding one.</summary>
    public int Probe(TokenizerSettings settings) => settings.VocabularyPath is { } path && HuggingFaceTokenizer.IsTokenizerJson(path) ? 3 : 0;

    public ITextTokenizer Open(TokenizerSettings settings) =>
        HuggingFaceTokenizer.Load(settings.VocabularyPath ?? throw new ArgumentException("This tokenizer needs a tokenizer.json (--tokenizer PATH, or a model folder holding one)."));
}
