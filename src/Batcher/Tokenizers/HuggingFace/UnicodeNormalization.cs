using System.Globalization;
using System.Text;

namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// NFC, NFD, NFKC and NFKD from generated tables (<see cref="UnicodeVersion"/>): the app runs with invariant
/// globalization, where <see cref="string.Normalize(NormalizationForm)"/> leaves non-ASCII text unchanged. Full
/// decomposition, canonical ordering by combining class, then canonical composition (UAX #15), with Hangul by algorithm.
/// </summary>
internal static partial class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<Tables> s_tables = new(Load);

    private sealed record Tables(Dictionary<int, int[]> Canonical, Dictionary<int, int[]> Compatibility, Dictionary<int, byte> CombiningClass, Dictionary<long, int> Compositions);

    private static Tables Load()
    {
        var canonical = new Dictionary<int, int[]>();
        var compatibility = new Dictionary<int, int[]>();
        var ccc = new Dictionary<int, byte>();
        foreach (string line in DecompositionData.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(';');
            int cp = int.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            byte cls = byte.Parse(f[1], CultureInfo.InvariantCulture);
            if (cls != 0)
            {
                ccc[cp] = cls;
            }
            int[]? d = f[2].Length > 0 ? Parse(f[2]) : null;
            if (d is not null)
            {
                canonical[cp] = d;
            }
            if (f[3].Length > 0)
            {
                compatibility[cp] = Parse(f[3]);
            }
            else if (d is not null)
            {
                compatibility[cp] = d;
            }
        }
        var compositions = new Dictionary<long, int>();
        foreach (string line in CompositionData.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int[] f = Parse(line);
            compositions[Key(f[0], f[1])] = f[2];
        }
        return new Tables(canonical, compatibility, ccc, compositions);
    }

    private static int[] Parse(string hex) => hex.Split(' ').Select(h => int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();

    private static long Key(int first, int second) => ((long)first << 21) | (uint)second;

    /// <summary><paramref name="text"/> in <paramref name="form"/>; the same string when nothing changes.</summary>
    public static string Normalize(string text, NormalizationForm form)
    {
        if (Ascii.IsValid(text))
        {
            return text;
        }
        Tables tables = s_tables.Value;
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        var points = new List<int>(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            Decompose(rune.Value, compatibility ? tables.Compatibility : tables.Canonical, points);
        }
        Reorder(points, tables.CombiningClass);
        if (form is NormalizationForm.FormC or NormalizationForm.FormKC)
        {
            Compose(points, tables);
        }
        var output = new StringBuilder(points.Count);
        foreach (int cp in points)
        {
            output.Append(char.ConvertFromUtf32(cp));
        }
        string result = output.ToString();
        return result == text ? text : result;
    }

    private static void Decompose(int cp, Dictionary<int, int[]> table, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + (s / NCount));
            output.Add(VBase + (s % NCount / TCount));
            if (s % TCount != 0)
            {
                output.Add(TBase + (s % TCount));
            }
            return;
        }
        if (table.TryGetValue(cp, out int[]? d))
        {
            output.AddRange(d); // the tables hold full decompositions
        }
        else
        {
            output.Add(cp);
        }
    }

    /// <summary>Canonical ordering: each run of non-starters sorted by combining class, stably.</summary>
    private static void Reorder(List<int> points, Dictionary<int, byte> ccc)
    {
        for (int i = 1; i < points.Count; i++)
        {
            byte cls = ccc.GetValueOrDefault(points[i]);
            if (cls == 0)
            {
                continue;
            }
            int j = i;
            while (j > 0 && ccc.GetValueOrDefault(points[j - 1]) > cls)
            {
                (points[j - 1], points[j]) = (points[j], points[j - 1]);
                j--;
            }
        }
    }

    /// <summary>Canonical composition: each character joins the last starter unless a character between them blocks it.</summary>
    private static void Compose(List<int> points, Tables tables)
    {
        if (points.Count < 2)
        {
            return;
        }
        int starter = -1;
        int lastClass = -1;
        int write = 0;
        for (int read = 0; read < points.Count; read++)
        {
            int cp = points[read];
            int cls = tables.CombiningClass.GetValueOrDefault(cp);
            if (starter >= 0 && (lastClass < cls || lastClass == 0 && write == starter + 1) && TryCompose(points[starter], cp, tables, out int composite))
            {
                points[starter] = composite;
                continue;
            }
            if (cls == 0)
            {
                starter = write;
                lastClass = 0;
            }
            else
            {
                lastClass = cls;
            }
            points[write++] = cp;
        }
        points.RemoveRange(write, points.Count - write);
    }

    private static bool TryCompose(int first, int second, Tables tables, out int composite)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composite = SBase + (((first - LBase) * VCount) + (second - VBase)) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return tables.Compositions.TryGetValue(Key(first, second), out composite);
    }
}
