using System.Globalization;
using System.Text.RegularExpressions;
using StreamLoader.Results.Formats;

namespace StreamLoader.Results.Parts;

/// <summary>
/// Where one rank's inference output goes. With one rank, <c>--output preds.jsonl</c> is the file itself; with
/// several, rank r of W writes <c>preds.part-0000r-of-0000W.jsonl</c> beside it, and <c>infer --merge</c> joins
/// the parts into <c>preds.jsonl</c>. Each finished file has a completion marker beside it (<c>….done</c>); while a
/// rank works, its chunks and their journal live in a work folder (<c>….work/</c>).
/// </summary>
public sealed partial record OutputLayout
{
    private OutputLayout(string output, IResultFormat format, string final, int rank, int worldSize)
    {
        Output = output;
        Format = format;
        Final = final;
        Rank = rank;
        WorldSize = worldSize;
    }

    /// <summary>The <c>--output</c> path, made absolute.</summary>
    public string Output { get; }

    /// <summary>The format its extension names.</summary>
    public IResultFormat Format { get; }

    /// <summary>The file this rank finishes: the output itself, or its part.</summary>
    public string Final { get; }

    public int Rank { get; }

    public int WorldSize { get; }

    /// <summary>The completion marker: present only once <see cref="Final"/> is whole.</summary>
    public string Marker => MarkerFor(Final);

    /// <summary>The work folder holding the chunks and the journal while the rank runs.</summary>
    public string WorkFolder => Final + ".work";

    /// <summary>The layout of <paramref name="output"/> for rank <paramref name="rank"/> of <paramref name="worldSize"/>.</summary>
    public static OutputLayout For(string output, int rank, int worldSize)
    {
        string full = Path.GetFullPath(output);
        IResultFormat format = ResultFormats.ForPath(full);
        return new OutputLayout(full, format, worldSize == 1 ? full : PartPath(full, format, rank, worldSize), rank, worldSize);
    }

    /// <summary>The completion marker of a finished file.</summary>
    public static string MarkerFor(string file) => file + ".done";

    /// <summary><c>dir/preds.part-00003-of-00008.jsonl</c> for <c>dir/preds.jsonl</c>.</summary>
    public static string PartPath(string output, IResultFormat format, int rank, int worldSize)
    {
        string extension = ResultFormats.ExtensionOf(output, format);
        return string.Create(CultureInfo.InvariantCulture, $"{output[..^extension.Length]}.part-{rank:D5}-of-{worldSize:D5}{extension}");
    }

    /// <summary>
    /// The parts written for <paramref name="output"/>, by world size (several runs of different sizes may have left
    /// parts): rank → path.
    /// </summary>
    public static IReadOnlyDictionary<int, SortedDictionary<int, string>> FindParts(string output)
    {
        string full = Path.GetFullPath(output);
        IResultFormat format = ResultFormats.ForPath(full);
        string extension = ResultFormats.ExtensionOf(full, format);
        string stem = Path.GetFileName(full[..^extension.Length]);
        string folder = Path.GetDirectoryName(full)!;
        var parts = new Dictionary<int, SortedDictionary<int, string>>();
        if (!Directory.Exists(folder))
        {
            return parts;
        }
        foreach (string path in Directory.EnumerateFiles(folder, $"{stem}.part-*-of-*{extension}"))
        {
            Match match = PartName().Match(Path.GetFileName(path)[(stem.Length + 1)..^extension.Length]);
            if (match.Success)
            {
                int world = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                (parts.TryGetValue(world, out SortedDictionary<int, string>? byRank) ? byRank : parts[world] = [])[int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)] = path;
            }
        }
        return parts;
    }

    [GeneratedRegex(@"^part-(\d{5,})-of-(\d{5,})$", RegexOptions.CultureInvariant)]
    private static partial Regex PartName();
}
