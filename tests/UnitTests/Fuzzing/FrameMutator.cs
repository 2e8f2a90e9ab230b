using System.Buffers.Binary;

namespace StreamLoader.Tests.Fuzzing;

/// <summary>
/// A deterministic mutation fuzzer's mutator: from a seed, turns valid inputs into nearly valid ones the way broken
/// senders and hostile peers do — bit flips, interesting bytes, truncations, splices from another input, and edits of
/// the numbers a parser trusts (the 8-byte length prefix, and every run of digits in a JSON header: shapes, offsets).
/// The same seed gives the same inputs, so a failure names its seed and iteration and is reproduced from them.
/// </summary>
internal sealed class FrameMutator(int seed)
{
    private static readonly long[] Interesting = [0, 1, -1, 7, 8, 255, 256, 65_535, int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, 1L << 40, long.MaxValue, long.MinValue];

    private static readonly byte[] InterestingBytes = [0, 0xFF, 0x80, (byte)'9', (byte)'-', (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'e', (byte)'.', (byte)'\\'];

    private readonly Random _random = new(seed);

    /// <summary>One to four mutations of <paramref name="input"/>, with <paramref name="other"/> for splices; and what was done.</summary>
    public (byte[] Bytes, string What) Mutate(byte[] input, byte[] other)
    {
        byte[] bytes = input;
        var what = new List<string>();
        int count = 1 + _random.Next(4);
        for (int i = 0; i < count; i++)
        {
            (bytes, string step) = Step(bytes, other);
            what.Add(step);
        }
        return (bytes, string.Join(", ", what));
    }

    private (byte[] Bytes, string What) Step(byte[] input, byte[] other)
    {
        byte[] bytes = (byte[])input.Clone();
        if (bytes.Length == 0)
        {
            return (other[..Math.Min(other.Length, 16)], "took the start of another");
        }
        int at = _random.Next(bytes.Length);
        switch (_random.Next(8))
        {
            case 0:
                bytes[at] ^= (byte)(1 << _random.Next(8));
                return (bytes, $"flipped a bit at {at}");
            case 1:
                byte value = InterestingBytes[_random.Next(InterestingBytes.Length)];
                bytes[at] = value;
                return (bytes, $"byte {at} = 0x{value:X2}");
            case 2:
                return (bytes[..at], $"truncated at {at}");
            case 3:
                int from = _random.Next(other.Length);
                int length = _random.Next(Math.Min(64, other.Length - from) + 1);
                return ([.. bytes[..at], .. other.AsSpan(from, length), .. bytes[at..]], $"spliced {length} bytes of another at {at}");
            case 4 when bytes.Length >= 8:
                long prefix = Interesting[_random.Next(Interesting.Length)];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, prefix);
                return (bytes, $"length prefix = {prefix}");
            case 5:
                return EditNumber(bytes);
            case 6:
                int cut = _random.Next(bytes.Length - at + 1);
                return ([.. bytes[..at], .. bytes[(at + cut)..]], $"removed {cut} bytes at {at}");
            default:
                int span = Math.Min(_random.Next(1, 32), bytes.Length - at);
                return ([.. bytes[..(at + span)], .. bytes.AsSpan(at, span), .. bytes[(at + span)..]], $"repeated {span} bytes at {at}");
        }
    }

    /// <summary>Replaces one run of ASCII digits (a dimension, an offset, a count) with an interesting number.</summary>
    private (byte[] Bytes, string What) EditNumber(byte[] bytes)
    {
        var runs = new List<(int Start, int Length)>();
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] is >= (byte)'0' and <= (byte)'9')
            {
                int start = i;
                while (i < bytes.Length && bytes[i] is >= (byte)'0' and <= (byte)'9')
                {
                    i++;
                }
                runs.Add((start, i - start));
            }
        }
        if (runs.Count == 0)
        {
            return (bytes, "no number to edit");
        }
        (int at, int length) = runs[_random.Next(runs.Count)];
        string number = Interesting[_random.Next(Interesting.Length)].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ([.. bytes[..at], .. System.Text.Encoding.ASCII.GetBytes(number), .. bytes[(at + length)..]], $"number at {at} = {number}");
    }
}
