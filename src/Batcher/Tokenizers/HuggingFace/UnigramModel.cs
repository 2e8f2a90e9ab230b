using System.Text;
using System.Text.Json;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// Hugging Face's Unigram model (SentencePiece's): the segmentation of a word with the highest total log-probability,
/// found by Viterbi over every vocabulary piece that starts at each character, as <c>tokenizers</c>'
/// <c>encode_optimized</c> does it: the first candidate wins a tie, a character no piece covers is the unknown token
/// at the lowest score less 10, adjacent unknowns fuse when <c>fuse_unk</c>, and <c>byte_fallback</c> spells a piece
/// outside the vocabulary as &lt;0xXX&gt; bytes.
/// </summary>
internal sealed class UnigramModel
{
    private const double UnknownPenalty = 10.0;
    private readonly Dictionary<string, int> _ids;
    private readonly double[] _scores;
    private readonly int _unknown;
    private readonly bool _byteFallback;
    private readonly bool _fuseUnknown;
    private readonly int _longest;
    private readonly double _unknownScore;
    private readonly int[] _byteTokens = new int[256];

    private UnigramModel(Dictionary<string, int> ids, double[] scores, int unknown, bool byteFallback)
    {
        _ids = ids;
        _scores = scores;
        _unknown = unknown;
        _byteFallback = byteFallback;
        _fuseUnknown = true; // tokenizers' Unigram always fuses unknowns
        _longest = ids.Keys.Select(k => k.Length).DefaultIfEmpty(1).Max();
        _unknownScore = scores.DefaultIfEmpty(0).Min() - UnknownPenalty;
        for (int b = 0; b < 256; b++)
        {
            _byteTokens[b] = ids.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
    }

    public IReadOnlyDictionary<string, int> Vocabulary => _ids;

    public static UnigramModel Read(JsonElement model, string where)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var scores = new List<double>();
        foreach (JsonElement entry in model.GetProperty("vocab").EnumerateArray())
        {
            string piece = entry[0].GetString()!;
            ids.TryAdd(piece, scores.Count);
            scores.Add(entry[1].GetDouble());
        }
        int unknown = model.TryGetProperty("unk_id", out JsonElement unk) && unk.ValueKind == JsonValueKind.Number ? unk.GetInt32() : -1;
        bool byteFallback = model.TryGetProperty("byte_fallback", out JsonElement fallback) && fallback.ValueKind == JsonValueKind.True;
        if (scores.Count == 0)
        {
            throw new InvalidDataException($"{where}: the Unigram vocabulary is empty.");
        }
        return new UnigramModel(ids, [.. scores], unknown, byteFallback);
    }

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(ReadOnlySpan<char> word, Core.Tokenization.TokenBuffer output)
    {
        if (word.IsEmpty)
        {
            return;
        }
        int n = word.Length;
        var bestScore = new double[n + 1];
        var startsAt = new int[n + 1];
        var id = new int[n + 1];
        Array.Fill(startsAt, -1);
        Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        int start = 0;
        while (start < n)
        {
            int charLength = char.IsHighSurrogate(word[start]) && start + 1 < n && char.IsLowSurrogate(word[start + 1]) ? 2 : 1;
            double before = bestScore[start];
            bool single = false;
            for (int length = 1; length <= Math.Min(_longest, n - start); length++)
            {
                if (!lookup.TryGetValue(word.Slice(start, length), out int piece))
                {
                    continue;
                }
                int end = start + length;
                double candidate = _scores[piece] + before;
                if (startsAt[end] < 0 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    startsAt[end] = start;
                    id[end] = piece;
                }
                single |= length == charLength;
            }
            if (!single)
            {
                int end = start + charLength;
                double candidate = _unknownScore + before;
                if (startsAt[end] < 0 || candidate > bestScore[end])
                {
                    if (_unknown < 0 && !_byteFallback)
                    {
                        throw new InvalidDataException($"'{word.Slice(start, charLength)}' is not in the Unigram vocabulary and the model has no unknown token.");
                    }
                    bestScore[end] = candidate;
                    startsAt[end] = start;
                    id[end] = _unknown;
                }
            }
            start += charLength;
        }
        // Back from the end: the pieces, unknown runs fused into one string.
        var pieces = new List<(int Start, int End, bool Unknown)>();
        for (int end = n; end > 0;)
        {
            int from = startsAt[end];
            bool unknown = id[end] == _unknown && _unknown >= 0;
            if (unknown && _fuseUnknown && pieces.Count > 0 && pieces[^1].Unknown && pieces[^1].Start == end)
            {
                pieces[^1] = (from, pieces[^1].End, true);
            }
            else
            {
                pieces.Add((from, end, unknown));
            }
            end = from;
        }
        for (int i = pieces.Count - 1; i >= 0; i--)
        {
            (int from, int to, _) = pieces[i];
            ReadOnlySpan<char> text = word[from..to];
            if (lookup.TryGetValue(text, out int piece))
            {
                output.Add(piece);
            }
            else if (_byteFallback && Bytes(text) is { } bytes)
            {
                output.AddRange(bytes);
            }
            else
            {
                output.Add(_unknown);
            }
        }
    }

    private int[]? Bytes(ReadOnlySpan<char> text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text.ToString());
        var ids = new int[utf8.Length];
        for (int i = 0; i < utf8.Length; i++)
        {
            ids[i] = _byteTokens[utf8[i]];
            if (ids[i] < 0)
            {
                return null;
            }
        }
        return ids;
    }
}
