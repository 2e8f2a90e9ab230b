using System.Globalization;
using StreamLoader.Core.Randomness;

namespace StreamLoader.Core.Tasks;

/// <summary>
/// Which documents a training run holds out for evaluation: a fraction drawn from the seed by each document's id (so a
/// document is held out or not whatever the shuffle, the rank or a resume), or the documents of named source files
/// (<c>file:dev.tsv</c>).
/// </summary>
public sealed class HeldOutSplit
{
    private readonly ulong _threshold;
    private readonly int _seed;
    private readonly string? _file;

    private HeldOutSplit(double fraction, int seed, string? file)
    {
        Fraction = fraction;
        _seed = seed;
        _file = file;
        _threshold = fraction >= 1 ? ulong.MaxValue : (ulong)(fraction * ulong.MaxValue);
    }

    /// <summary>The rule when none is given (<c>--eval-split</c>): a tenth of the documents.</summary>
    public const string DefaultRule = "0.1";

    /// <summary>No held-out documents.</summary>
    public static HeldOutSplit None { get; } = new(0, 0, null);

    /// <summary>The fraction held out (0 with a file rule).</summary>
    public double Fraction { get; }

    /// <summary>True when some documents may be held out.</summary>
    public bool Enabled => Fraction > 0 || _file is not null;

    /// <summary>"10% by id from seed 0" or "documents of dev.tsv".</summary>
    public string Description => _file is not null ? $"the documents of {_file}" : Fraction > 0 ? string.Create(CultureInfo.InvariantCulture, $"{Fraction:P0} of the documents, drawn by id from the seed") : "none";

    /// <summary>Parses <c>--eval-split</c>: a fraction in [0, 0.9] (0 for none) or <c>file:NAME</c>.</summary>
    public static HeldOutSplit Parse(string text, int seed)
    {
        if (text.StartsWith("file:", StringComparison.Ordinal) && text.Length > 5)
        {
            return new HeldOutSplit(0, seed, text[5..]);
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction) && fraction is >= 0 and <= 0.9)
        {
            return fraction == 0 ? None : new HeldOutSplit(fraction, seed, null);
        }
        throw new FormatException($"--eval-split {text}: expected a fraction from 0 to 0.9 (0.1 holds out a tenth of the documents) or file:NAME (the documents of the source file NAME).");
    }

    /// <summary>True when the document is held out.</summary>
    public bool IsHeldOut(string id, string? sourceName)
    {
        if (_file is not null)
        {
            return sourceName is not null && (sourceName == _file || sourceName.EndsWith("/" + _file, StringComparison.Ordinal) || Path.GetFileName(sourceName) == _file);
        }
        if (Fraction <= 0)
        {
            return false;
        }
        return Seeds.Hash(_seed, id) < _threshold;
    }
}
