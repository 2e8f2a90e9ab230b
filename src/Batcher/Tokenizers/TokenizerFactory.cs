using Microsoft.ML.Tokenizers;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>Tokenizer families the batcher supports.</summary>
public enum TokenizerKind
{
    /// <summary>Pick from the vocabulary file's name: vocab.txt is WordPiece, .model SentencePiece, .json with merges GPT-2 BPE; none is tiktoken.</summary>
    Auto,

    /// <summary>BERT WordPiece from a vocab.txt.</summary>
    WordPiece,

    /// <summary>OpenAI tiktoken; cl100k_base ships in a NuGet data package, so it works offline.</summary>
    Tiktoken,

    /// <summary>SentencePiece (Unigram or BPE) from a .model file.</summary>
    SentencePiece,

    /// <summary>GPT-2 byte-level BPE from encoder.json (vocab) and vocab.bpe (merges).</summary>
    Gpt2Bpe,
}

/// <summary>How to build the tokenizer.</summary>
public sealed record TokenizerSettings
{
    public TokenizerKind Kind { get; init; } = TokenizerKind.Auto;

    /// <summary>vocab.txt, encoder.json or a SentencePiece .model.</summary>
    public string? VocabularyPath { get; init; }

    /// <summary>Merges file for GPT-2 BPE.</summary>
    public string? MergesPath { get; init; }

    /// <summary>Tiktoken model name; "gpt-4" selects cl100k_base.</summary>
    public string TiktokenModel { get; init; } = "gpt-4";

    /// <summary>WordPiece: lower-case before tokenizing (bert-base-uncased).</summary>
    public bool LowerCase { get; init; } = true;
}

/// <summary>Builds an <see cref="ITextTokenizer"/> from <see cref="TokenizerSettings"/>.</summary>
public static class TokenizerFactory
{
    public static ITextTokenizer Create(TokenizerSettings settings)
    {
        TokenizerKind kind = settings.Kind == TokenizerKind.Auto ? Detect(settings) : settings.Kind;
        return kind switch
        {
            TokenizerKind.WordPiece => CreateWordPiece(Require(settings.VocabularyPath, "--vocab (a BERT vocab.txt)"), settings.LowerCase),
            TokenizerKind.Tiktoken => CreateTiktoken(settings.TiktokenModel),
            TokenizerKind.SentencePiece => CreateSentencePiece(Require(settings.VocabularyPath, "--vocab (a SentencePiece .model)")),
            TokenizerKind.Gpt2Bpe => CreateGpt2(Require(settings.VocabularyPath, "--vocab (GPT-2 encoder.json)"), Require(settings.MergesPath, "--merges (GPT-2 vocab.bpe)")),
            _ => throw new ArgumentOutOfRangeException(nameof(settings), kind, "Unknown tokenizer kind."),
        };
    }

    private static TokenizerKind Detect(TokenizerSettings settings)
    {
        string? vocab = settings.VocabularyPath;
        if (vocab is null)
        {
            return TokenizerKind.Tiktoken;
        }
        if (vocab.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
        {
            return TokenizerKind.SentencePiece;
        }
        if (vocab.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || settings.MergesPath is not null)
        {
            return TokenizerKind.Gpt2Bpe;
        }
        return TokenizerKind.WordPiece;
    }

    private static string Require(string? path, string what)
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

    /// <summary>BERT WordPiece from a vocab.txt (one token per line; the line number is the id).</summary>
    public static ITextTokenizer CreateWordPiece(string vocabPath, bool lowerCase = true)
    {
        string[] tokens = File.ReadAllLines(vocabPath);
        if (tokens.Length == 0)
        {
            throw new InvalidDataException($"{vocabPath}: the vocabulary is empty.");
        }
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++)
        {
            ids.TryAdd(tokens[i], i);
        }
        foreach (string required in (string[])["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
        {
            if (!ids.ContainsKey(required))
            {
                throw new InvalidDataException($"{vocabPath}: a BERT vocabulary needs the token {required}, and this one lacks it.");
            }
        }
        BertTokenizer bert = BertTokenizer.Create(vocabPath, new BertOptions { LowerCaseBeforeTokenization = lowerCase });
        return TokenizerAdapter.Create(
            $"wordpiece:{Path.GetFileName(vocabPath)}",
            bert,
            static (t, text) => ((BertTokenizer)t).EncodeToIds(text, addSpecialTokens: false),
            id => id < tokens.Length ? tokens[id] : null,
            token => ids.TryGetValue(token, out int id) ? id : null,
            tokens.Length);
    }

    /// <summary>tiktoken for a model name; "gpt-4" is cl100k_base, "gpt-4o" o200k_base (if its data package is referenced).</summary>
    public static ITextTokenizer CreateTiktoken(string model = "gpt-4")
    {
        TiktokenTokenizer tiktoken = TiktokenTokenizer.CreateForModel(model);
        // The regular vocabulary is not public; the special tokens sit above it in every OpenAI encoding.
        int size = 0;
        foreach (int id in tiktoken.SpecialTokens?.Values ?? [])
        {
            size = Math.Max(size, id + 1);
        }
        if (size == 0)
        {
            throw new InvalidOperationException($"tiktoken model '{model}' declares no special tokens, so its vocabulary size is unknown.");
        }
        // tiktoken's own specials (<|endoftext|> ...) are not used as [SEP]: text is encoded without special-token
        // parsing, so a literal "<|endoftext|>" in a document stays text. The roles get fresh ids instead.
        return TokenizerAdapter.Create(
            $"tiktoken:{model}",
            tiktoken,
            static (t, text) => t.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true),
            _ => null,
            _ => null,
            size);
    }

    /// <summary>SentencePiece from a .model file, without adding BOS or EOS.</summary>
    public static ITextTokenizer CreateSentencePiece(string modelPath)
    {
        using FileStream stream = File.OpenRead(modelPath);
        SentencePieceTokenizer sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        IReadOnlyDictionary<string, int> vocabulary = sp.Vocabulary;
        var reverse = new Dictionary<int, string>(vocabulary.Count);
        int size = 0;
        foreach (KeyValuePair<string, int> pair in vocabulary)
        {
            reverse.TryAdd(pair.Value, pair.Key);
            size = Math.Max(size, pair.Value + 1);
        }
        return TokenizerAdapter.Create(
            $"sentencepiece:{Path.GetFileName(modelPath)}",
            sp,
            static (t, text) => ((SentencePieceTokenizer)t).EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false),
            id => reverse.TryGetValue(id, out string? token) ? token : null,
            token => vocabulary.TryGetValue(token, out int id) ? id : null,
            size);
    }

    /// <summary>GPT-2 byte-level BPE from encoder.json and vocab.bpe.</summary>
    public static ITextTokenizer CreateGpt2(string encoderJsonPath, string mergesPath)
    {
        using FileStream vocab = File.OpenRead(encoderJsonPath);
        using FileStream merges = File.OpenRead(mergesPath);
        CodeGenTokenizer gpt2 = CodeGenTokenizer.Create(vocab, merges, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false);
        IReadOnlyDictionary<string, int> vocabulary = gpt2.Vocabulary;
        int size = 0;
        foreach (int id in vocabulary.Values)
        {
            size = Math.Max(size, id + 1);
        }
        return TokenizerAdapter.Create(
            $"gpt2-bpe:{Path.GetFileName(encoderJsonPath)}",
            gpt2,
            static (t, text) => ((CodeGenTokenizer)t).EncodeToIds(text, addPrefixSpace: false, addBeginningOfSentence: false, addEndOfSentence: false),
            _ => null,
            token => vocabulary.TryGetValue(token, out int id) ? id : null,
            size);
    }
}
