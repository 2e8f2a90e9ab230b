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
        (ulong choose, ulong toMask, ulong toRandom, long mask) = (_choose, _toMask, _toRandom, _mask);
        // The generator's state is copied into a local the loop never takes the address of, so the JIT keeps it in
        // registers; through the ref it would load and store it on every draw (a write to the spans might alias it).
        Xoshiro256 rng = random;
        for (int i = 0; i < inputIds.Length; i++)
        {
            long id = inputIds[i];
            if (attentionMask[i] == 0 || (ulong)id >= (ulong)special.Length || special[id])
            {
                continue;
            }
            counts.Candidates++;
            if (!rng.Chance(choose))
            {
                continue;
            }
            counts.Chosen++;
            labels[i] = id;
            if (rng.Chance(toMask))
            {
                inputIds[i] = mask;
                counts.Masked++;
            }
            else if (rng.Chance(toRandom))
            {
                // Rare (one chosen position in twenty): the state goes out through the ref and comes back.
                random = rng;
                inputIds[i] = RandomRegularToken(ref random);
                rng = random;
                counts.Randomized++;
            }
            else
            {
                counts.Unchanged++;
            }
        }
        random = rng;
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
