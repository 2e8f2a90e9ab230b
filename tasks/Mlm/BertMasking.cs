using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Mlm;

/// <summary>Counts of what <see cref="BertMasking.Apply"/> did to a batch.</summary>
public record struct MaskingCounts(int Candidates, int Chosen, int Masked, int Randomized, int Unchanged);

/// <summary>
/// BERT's masked-language-model corruption: each position that is neither special nor padding is chosen with
/// probability p; of the chosen, 80% become [MASK], 10% a random non-special token, 10% stay. Labels hold the
/// original id at chosen positions and -100 everywhere else.
/// </summary>
public static class BertMasking
{
    /// <summary>The label of positions that carry no target.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>Corrupts <paramref name="inputIds"/> in place and writes <paramref name="labels"/>.</summary>
    public static MaskingCounts Apply(Span<long> inputIds, ReadOnlySpan<long> attentionMask, Span<long> labels, SpecialTokens special, int vocabularySize, double probability, Random random)
    {
        if (inputIds.Length != labels.Length || inputIds.Length != attentionMask.Length)
        {
            throw new ArgumentException("input_ids, attention_mask and labels must have the same length.");
        }
        var counts = default(MaskingCounts);
        labels.Fill(IgnoreIndex);
        for (int i = 0; i < inputIds.Length; i++)
        {
            int id = (int)inputIds[i];
            if (attentionMask[i] == 0 || special.IsSpecial(id))
            {
                continue;
            }
            counts.Candidates++;
            if (random.NextDouble() >= probability)
            {
                continue;
            }
            counts.Chosen++;
            labels[i] = id;
            double roll = random.NextDouble();
            if (roll < 0.8)
            {
                inputIds[i] = special.Mask;
                counts.Masked++;
            }
            else if (roll < 0.9)
            {
                inputIds[i] = RandomRegularToken(special, vocabularySize, random);
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
    public static int RandomRegularToken(SpecialTokens special, int vocabularySize, Random random)
    {
        while (true)
        {
            int id = random.Next(vocabularySize);
            if (!special.IsSpecial(id))
            {
                return id;
            }
        }
    }
}
