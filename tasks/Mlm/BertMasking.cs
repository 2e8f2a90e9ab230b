using StreamLoader.Core.Randomness;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Mlm;

/// <summary>Counts of what <see cref="BertMasking.Apply"/> did to a batch.</summary>
public record struct MaskingCounts(int Candidates, int Chosen, int Masked, int Randomized, int Unchanged);

/// <summary>
/// BERT's masked-language-model corruption: each position that is neither special nor padding is chosen with
/// probability p; of the chosen, 80% become [MASK], 10% a random non-special token, 10% stay. Labels hold the
/// original id at chosen positions and -100 everywhere else.
/// </summary>
/// <remarks>
/// This loop runs once per token on the batcher's single batching thread, so it avoids interface calls (special ids
/// are a lookup table) and floating point (one 64-bit draw compared with a threshold per decision).
/// </remarks>
public sealed class BertMasking
{
    private const long IgnoreIndex = TaskTensors.IgnoreIndex;

    private readonly bool[] _special;
    private readonly int _mask;
    private readonly int _vocabularySize;
    private readonly ulong _choose;
    private readonly ulong _toMask = Xoshiro256.Threshold(0.8);
    private readonly ulong _toRandom = Xoshiro256.Threshold(0.5); // of the remaining 20%: half random, half kept

    public BertMasking(SpecialTokens special, int vocabularySize, double probability)
    {
        _vocabularySize = vocabularySize;
        _mask = special.Mask;
        _choose = Xoshiro256.Threshold(probability);
        _special = new bool[vocabularySize];
        for (int id = 0; id < vocabularySize; id++)
        {
            _special[id] = special.IsSpecial(id);
        }
    }

    /// <summary>Corrupts <paramref name="inputIds"/> in place and writes <paramref name="labels"/>.</summary>
    public MaskingCounts Apply(Span<long> inputIds, ReadOnlySpan<long> attentionMask, Span<long> labels, ref Xoshiro256 random)
    {
        if (inputIds.Length != labels.Length || inputIds.Length != attentionMask.Length)
        {
            throw new ArgumentException("input_ids, attention_mask and labels must have the same length.");
        }
        var counts = default(MaskingCounts);
        labels.Fill(IgnoreIndex);
        bool[] special = _special;
        for (int i = 0; i < inputIds.Length; i++)
        {
            long id = inputIds[i];
            if (attentionMask[i] == 0 || (ulong)id >= (ulong)special.Length || special[id])
            {
                continue;
            }
            counts.Candidates++;
            if (!random.Chance(_choose))
            {
                continue;
            }
            counts.Chosen++;
            labels[i] = id;
            if (random.Chance(_toMask))
            {
                inputIds[i] = _mask;
                counts.Masked++;
            }
            else if (random.Chance(_toRandom))
            {
                inputIds[i] = RandomRegularToken(ref random);
                counts.Randomized++;
            }
            else
            {
                counts.Unchanged++;
            }
        }
        return counts;
    }

    /// <summary>A uniformly random id that is not a special token.</summary>
    public int RandomRegularToken(ref Xoshiro256 random)
    {
        while (true)
        {
            int id = random.NextInt32(_vocabularySize);
            if (!_special[id])
            {
                return id;
            }
        }
    }
}
