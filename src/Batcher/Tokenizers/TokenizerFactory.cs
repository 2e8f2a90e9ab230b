using Microsoft.ML.Tokenizers;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>How to build the tokenizer.</summary>
public sealed record TokenizerSettings
{
    /// <summary>The family's name or alias in <see cref="Catalog.TokenizerCatalog"/>, or <c>auto</c> to let the files choose.</summary>
    public string Family { get; init; } = Catalog.TokenizerCatalog.Auto;

    /// <summary>vocab.txt, encoder.json or a SentencePiece .model.</summary>
    public string? VocabularyPath { get; init; }

    /// <summary>Merges file for GPT-2 BPE.</summary>
    public string? MergesPath { get; init; }

    /// <summary>Tiktoken model name; "gpt-4" selects cl100k_base.</summary>
    public string TiktokenModel { get; init; } = "gpt-4";

    /// <summary>Lower-case before tokenizing; null takes the family's default (WordPiece: yes, as bert-base-uncased; others: no).</summary>
    /// <remarks>Uncased SentencePiece models such as ALBERT's need it: their vocabulary has no capitals.</remarks>
    public bool? LowerCase { get; init; }
}

/// <summary>
/// The builders of the tokenizers the catalog's families open (<see cref="Catalog.TokenizerCatalog"/>): our WordPiece,
/// and adapters over Microsoft.ML.Tokenizers for tiktoken, SentencePiece and GPT-2 BPE. Tests and benchmarks call them
/// directly.
/// </summary>
public static partial class TokenizerFactory
{
    /// <summary>
    /// BERT WordPiece from a vocab.txt (one token per line; the line number is the id), with Hugging Face's ids
    /// exactly: <see cref="WordPiece.BertWordPieceTokenizer"/>. <paramref name="lowerCase"/> also strips accents, as
    /// <c>bert-base-uncased</c> does; false is the cased normalizer.
    /// </summary>
    public static ITextTokenizer CreateWordPiece(string vocabPath, bool lowerCase = true) => WordPiece.BertWordPieceTokenizer.Create(vocabPath, lowerCase);

    /// <summary>
    /// Microsoft.ML.Tokenizers' <c>BertTokenizer</c> behind the adapter: for benchmarks beside ours. Its ids differ from
    /// Hugging Face's (it drops newlines and some ASCII symbols and keeps accents), so the pipeline does not use it.
    /// </summary>
    public static ITextTokenizer CreateLibraryWordPiece(string vocabPath, bool lowerCase = true)
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
        string[] specialStrings = tiktoken.SpecialTokens?.Keys.ToArray() ?? [];
        return TokenizerAdapter.Create(
            $"tiktoken:{model}",
            tiktoken,
            (t, text) => EncodeOrdinary(t, text, specialStrings),
            _ => null,
            _ => null,
            size);
    }

    /// <summary>
    /// Encodes text as ordinary text, like tiktoken's <c>encode_ordinary</c>: Microsoft.ML.Tokenizers would turn a
    /// literal "&lt;|endoftext|&gt;" inside a document into the special id, letting data inject control tokens. Such
    /// strings are encoded in two halves ("&lt;|" and the rest), which only ordinary ids can express.
    /// </summary>
    private static IReadOnlyList<int> EncodeOrdinary(Tokenizer tokenizer, ReadOnlySpan<char> text, string[] specials)
    {
        int first = text.IndexOf("<|", StringComparison.Ordinal);
        if (first < 0)
        {
            return tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true);
        }
        var ids = new List<int>();
        int start = 0;
        int i = first;
        while (i >= 0)
        {
            string? special = null;
            foreach (string candidate in specials)
            {
                if (text[i..].StartsWith(candidate, StringComparison.Ordinal))
                {
                    special = candidate;
                    break;
                }
            }
            int resumeAt = i + 2;
            if (special is not null)
            {
                ids.AddRange(tokenizer.EncodeToIds(text[start..i], considerPreTokenization: true, considerNormalization: true));
                ids.AddRange(tokenizer.EncodeToIds("<|", considerPreTokenization: true, considerNormalization: true));
                ids.AddRange(tokenizer.EncodeToIds(special.AsSpan(2), considerPreTokenization: true, considerNormalization: true));
                start = i + special.Length;
                resumeAt = start;
            }
            int next = resumeAt < text.Length ? text[resumeAt..].IndexOf("<|", StringComparison.Ordinal) : -1;
            i = next < 0 ? -1 : resumeAt + next;
        }
        ids.AddRange(tokenizer.EncodeToIds(text[start..], considerPreTokenization: true, considerNormalization: true));
        return ids;
    }

    /// <summary>SentencePiece from a .model file, without adding BOS or EOS.</summary>
    public static ITextTokenizer CreateSentencePiece(string modelPath, bool lowerCase = false)
    {
        byte[] model = File.ReadAllBytes(modelPath);
        string[] pieces = SentencePieceModelPatch.ReadPieces(model);
        using var stream = new MemoryStream(SentencePieceModelPatch.Apply(model));
        SentencePieceTokenizer sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        // The tokenizer's Vocabulary leaves out control pieces such as [MASK]; the model's own piece list has them all.
        var ids = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++)
        {
            ids.TryAdd(pieces[i], i);
        }
        return TokenizerAdapter.Create(
            $"sentencepiece:{Path.GetFileName(modelPath)}",
            sp,
            lowerCase
                ? static (t, text) => ((SentencePieceTokenizer)t).EncodeToIds(text.ToString().ToLowerInvariant(), addBeginningOfSentence: false, addEndOfSentence: false)
                : static (t, text) => ((SentencePieceTokenizer)t).EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false),
            id => id < pieces.Length ? pieces[id] : null,
            token => ids.TryGetValue(token, out int id) ? id : null,
            pieces.Length);
    }

    /// <summary>GPT-2 byte-level BPE from encoder.json and vocab.bpe.</summary>
    public static ITextTokenizer CreateGpt2(string encoderJsonPath, string mergesPath)
    {
        // Byte-level BPE with GPT-2's own split pattern, as GPT-2's tokenizer.json has it. Not CodeGenTokenizer: it adds
        // CodeGen's 38 whitespace-run tokens (ids 50257-50294), which are not GPT-2's and collide with the ids the
        // adapter gives [PAD], [UNK], [CLS] and [MASK].
        var split = new RegexPreTokenizer(Gpt2Split(), specialTokens: null);
        BpeTokenizer gpt2 = BpeTokenizer.Create(new BpeOptions(encoderJsonPath, mergesPath) { ByteLevel = true, PreTokenizer = split });
        IReadOnlyDictionary<string, int> vocabulary = gpt2.Vocabulary;
        int size = 0;
        foreach (int id in vocabulary.Values)
        {
            size = Math.Max(size, id + 1);
        }
        return TokenizerAdapter.Create(
            $"gpt2-bpe:{Path.GetFileName(encoderJsonPath)}",
            gpt2,
            static (t, text) => t.EncodeToIds(text),
            _ => null,
            token => vocabulary.TryGetValue(token, out int id) ? id : null,
            size);
    }

    /// <summary>GPT-2's pre-tokenization pattern (contractions, letters, digits, other symbols, whitespace runs).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    private static partial System.Text.RegularExpressions.Regex Gpt2Split();
}
