using System.Diagnostics;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// Where a classifier's label names come from, in order: the frames (a device role), <c>--labels</c>, the checkpoint
/// being resumed, or one pass over the source collecting every label its documents carry.
/// </summary>
internal static class LabelDiscovery
{
    /// <summary>Reads every document of <paramref name="source"/> and returns the labels found, or null when none carries one.</summary>
    public static async Task<(LabelSet? Labels, long Documents, double Seconds)> ScanAsync(IDocumentSource source, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long documents = 0;
        await foreach (Document document in source.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            documents++;
            if (document.Labels is { } labels)
            {
                foreach (string label in labels)
                {
                    seen.Add(label);
                }
            }
        }
        LabelSet? set = seen.Count == 0 ? null : LabelSet.FromObserved(seen);
        return (set, documents, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>"4 labels: computer-vision, mlops, natural-language-processing, other" (the first few, for long lists).</summary>
    public static string Describe(LabelSet labels) =>
        $"{labels.Count} labels: {string.Join(", ", labels.Names.Take(8))}{(labels.Count > 8 ? ", …" : string.Empty)}";
}
