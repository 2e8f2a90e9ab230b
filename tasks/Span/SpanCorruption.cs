using StreamLoader.Core.Randomness;

namespace StreamLoader.Tasks.Span;

/// <summary>
/// T5's span corruption (<c>random_spans_noise_mask</c>): a row of raw tokens is split into alternating non-noise and
/// noise spans; the input keeps the non-noise tokens with one sentinel per noise span, then EOS; the target is each
/// sentinel followed by the span it replaced, then EOS.
/// </summary>
public sealed class SpanCorruption
{
    private readonly double _density;
    private readonly double _meanSpan;
    private int[] _cuts = new int[64];

    public SpanCorruption(double noiseDensity, double meanSpanLength)
    {
        _density = noiseDensity;
        _meanSpan = meanSpanLength;
    }

    /// <summary>Noise tokens in a row of <paramref name="length"/> raw tokens: round(length·d), clamped to [1, length − 1].</summary>
    public int NoiseTokens(int length) => length <= 1 ? length : Math.Clamp((int)Math.Round(length * _density, MidpointRounding.ToEven), 1, length - 1);

    /// <summary>Noise spans for <paramref name="noise"/> noise tokens: max(1, round(noise / μ)).</summary>
    public int Spans(int noise) => Math.Max(1, (int)Math.Round(noise / _meanSpan, MidpointRounding.ToEven));

    /// <summary>
    /// The longest raw row whose corrupted input fits <paramref name="inputLength"/> tokens, and the target length it
    /// gives (T5's <c>compute_input_and_target_lengths</c>: 568 raw tokens give 512 and 114 with the defaults).
    /// </summary>
    public (int Raw, int Target) Lengths(int inputLength)
    {
        int InputOf(int raw) => raw - NoiseTokens(raw) + Spans(NoiseTokens(raw)) + 1;
        int raw = 2;
        while (InputOf(raw + 1) <= inputLength)
        {
            raw++;
        }
        int noise = NoiseTokens(raw);
        return (raw, noise + Spans(noise) + 1);
    }

    /// <summary>
    /// Corrupts <paramref name="raw"/> into <paramref name="input"/> and <paramref name="target"/> (both end in
    /// <paramref name="eos"/>), using <paramref name="sentinels"/> in order. Returns the lengths written and the spans.
    /// </summary>
    public (int Input, int Target, int Spans, int Noise) Apply(ReadOnlySpan<int> raw, ReadOnlySpan<int> sentinels, int eos, Span<int> input, Span<int> target, ref Xoshiro256 random)
    {
        int length = raw.Length;
        int noise = NoiseTokens(length);
        int spans = length <= 1 ? 1 : Spans(noise);
        if (spans > sentinels.Length)
        {
            throw new InvalidOperationException($"A row needs {spans} sentinels; the tokenizer has {sentinels.Length}.");
        }
        int nonNoise = length - noise;
        // A one-token row is all noise: its one span has no non-noise before it.
        Span<int> noiseLengths = stackalloc int[spans];
        Span<int> keepLengths = stackalloc int[spans];
        Segment(noise, spans, noiseLengths, ref random);
        if (nonNoise == 0)
        {
            keepLengths.Clear();
        }
        else
        {
            Segment(nonNoise, spans, keepLengths, ref random);
        }
        int at = 0;
        int inputAt = 0;
        int targetAt = 0;
        for (int s = 0; s < spans; s++)
        {
            raw.Slice(at, keepLengths[s]).CopyTo(input[inputAt..]);
            inputAt += keepLengths[s];
            at += keepLengths[s];
            input[inputAt++] = sentinels[s];
            target[targetAt++] = sentinels[s];
            raw.Slice(at, noiseLengths[s]).CopyTo(target[targetAt..]);
            targetAt += noiseLengths[s];
            at += noiseLengths[s];
        }
        input[inputAt++] = eos;
        target[targetAt++] = eos;
        return (inputAt, targetAt, spans, noise);
    }

    /// <summary>
    /// Splits <paramref name="items"/> into <paramref name="segments"/> positive lengths, uniformly over the ways to put
    /// segments − 1 cuts among the items − 1 gaps.
    /// </summary>
    private void Segment(int items, int segments, Span<int> lengths, ref Xoshiro256 random)
    {
        if (segments > items)
        {
            throw new InvalidOperationException($"Cannot split {items} tokens into {segments} non-empty spans.");
        }
        int gaps = items - 1;
        if (_cuts.Length < gaps)
        {
            _cuts = new int[Math.Max(gaps, _cuts.Length * 2)];
        }
        Span<int> cuts = _cuts.AsSpan(0, gaps);
        for (int i = 0; i < gaps; i++)
        {
            cuts[i] = i + 1;
        }
        // A partial Fisher-Yates shuffle picks segments − 1 distinct cut positions.
        for (int i = 0; i < segments - 1; i++)
        {
            int j = i + random.NextInt32(gaps - i);
            (cuts[i], cuts[j]) = (cuts[j], cuts[i]);
        }
        Span<int> chosen = cuts[..(segments - 1)];
        chosen.Sort();
        int previous = 0;
        for (int i = 0; i < segments - 1; i++)
        {
            lengths[i] = chosen[i] - previous;
            previous = chosen[i];
        }
        lengths[segments - 1] = items - previous;
    }

    /// <summary>Rebuilds the raw tokens from an input and its target (each up to and without its EOS): the inverse of <see cref="Apply"/>.</summary>
    public static List<int> Reconstruct(ReadOnlySpan<int> input, ReadOnlySpan<int> target, IReadOnlyList<int> sentinels)
    {
        var spans = new Dictionary<int, List<int>>();
        List<int>? current = null;
        foreach (int id in target)
        {
            if (sentinels.Contains(id))
            {
                spans[id] = current = [];
            }
            else
            {
                current?.Add(id);
            }
        }
        var raw = new List<int>(input.Length + target.Length);
        foreach (int id in input)
        {
            if (spans.TryGetValue(id, out List<int>? span))
            {
                raw.AddRange(span);
            }
            else
            {
                raw.Add(id);
            }
        }
        return raw;
    }
}
