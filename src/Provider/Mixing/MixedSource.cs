using System.Globalization;
using System.Runtime.CompilerServices;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Randomness;

namespace StreamLoader.Provider.Mixing;

/// <summary>
/// Several sources drawn from by weight (<c>--source a --source b --weights 0.7,0.3</c>): each next document comes
/// from source k with probability weight k, from a seeded generator, so the mix is the same on every run.
/// </summary>
/// <remarks>
/// A pass over the mix ends when every source has been read to its end at least once; a source that ends sooner
/// starts again (in a new shuffled order when it is read through a <see cref="Streaming.DocumentStream"/>) so its
/// share stays what the weights say and nothing is dropped. Document ids are prefixed with the source's index
/// (<c>1/page-12</c>).
/// </remarks>
public sealed class MixedSource : IDocumentSource
{
    private readonly Lazy<string> _fingerprint;

    /// <param name="components">The sources, in the order of <paramref name="weights"/>.</param>
    /// <param name="weights">Positive weights, one per source; they are normalised to sum to 1.</param>
    /// <param name="statistics">The counters the components count into (give each component a child of it), or null.</param>
    public MixedSource(IReadOnlyList<IDocumentSource> components, IReadOnlyList<double> weights, SourceStatistics? statistics = null)
    {
        if (components.Count < 2 || components.Count != weights.Count)
        {
            throw new ArgumentException($"--weights: give one weight per --source ({components.Count} sources, {weights.Count} weights).");
        }
        foreach (double weight in weights)
        {
            if (!(weight > 0) || double.IsInfinity(weight))
            {
                throw new ArgumentException($"--weights {string.Join(',', weights.Select(w => w.ToString(CultureInfo.InvariantCulture)))}: every weight must be a positive number.");
            }
        }
        double sum = weights.Sum();
        if (!double.IsFinite(sum))
        {
            throw new ArgumentException($"--weights: the weights' sum must be a finite number (they are relative: 0.7,0.3 and 7,3 mix alike).");
        }
        Components = components;
        Weights = weights.Select(w => w / sum).ToArray();
        Statistics = statistics ?? new SourceStatistics();
        _fingerprint = new Lazy<string>(() => "mix(" + string.Join('|', Components.Select((c, i) => $"{Weights[i].ToString("R", CultureInfo.InvariantCulture)}:{c.Fingerprint}")) + ")", LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The sources mixed.</summary>
    public IReadOnlyList<IDocumentSource> Components { get; }

    /// <summary>The weights, normalised to sum to 1.</summary>
    public IReadOnlyList<double> Weights { get; }

    public string Description => "mix of " + string.Join(" + ", Components.Select((c, i) => $"{Weights[i]:0.###} × {c.Description}"));

    /// <summary>Every component's fingerprint with its weight: a resumed run must mix the same sources the same way.</summary>
    public string Fingerprint => _fingerprint.Value;

    public SourceStatistics Statistics { get; }

    /// <summary>One pass over the mix in the sources' own order, drawn with seed 0.</summary>
    public IAsyncEnumerable<Document> ReadAsync(CancellationToken cancellationToken = default) =>
        MixAsync((k, _) => Components[k].ReadAsync(cancellationToken), 0, cancellationToken);

    /// <summary>
    /// Draws from <paramref name="pass"/> (component k's documents on its <c>cycle</c>-th pass) by weight, with a
    /// generator seeded from <paramref name="seed"/>, until every component has ended once.
    /// </summary>
    public async IAsyncEnumerable<Document> MixAsync(Func<int, int, IAsyncEnumerable<Document>> pass, ulong seed, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        int n = Components.Count;
        var random = new Xoshiro256(seed);
        var cursors = new IAsyncEnumerator<Document>?[n];
        int[] cycles = new int[n];
        long[] yielded = new long[n];
        bool[] ended = new bool[n];
        double[] weights = [.. Weights];
        int endedCount = 0;
        string[] prefixes = Enumerable.Range(0, n).Select(k => $"{k}/").ToArray();
        try
        {
            while (endedCount < n)
            {
                int k = Pick(weights, random.NextDouble());
                cursors[k] ??= pass(k, cycles[k]).GetAsyncEnumerator(cancellationToken);
                if (await cursors[k]!.MoveNextAsync().ConfigureAwait(false))
                {
                    Document document = cursors[k]!.Current;
                    yielded[k]++;
                    yield return document with { Id = prefixes[k] + document.Id };
                    continue;
                }
                await cursors[k]!.DisposeAsync().ConfigureAwait(false);
                cursors[k] = null;
                if (!ended[k])
                {
                    ended[k] = true;
                    endedCount++;
                }
                if (yielded[k] == 0)
                {
                    // A pass that yields nothing (an empty source, or a rank's empty share) would be retried forever.
                    weights[k] = 0;
                }
                yielded[k] = 0;
                cycles[k]++;
            }
        }
        finally
        {
            foreach (IAsyncEnumerator<Document>? cursor in cursors)
            {
                if (cursor is not null)
                {
                    await cursor.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static int Pick(double[] weights, double u)
    {
        double total = 0;
        foreach (double w in weights)
        {
            total += w;
        }
        double target = u * total;
        double cumulative = 0;
        for (int k = 0; k < weights.Length; k++)
        {
            cumulative += weights[k];
            if (target < cumulative && weights[k] > 0)
            {
                return k;
            }
        }
        for (int k = weights.Length - 1; k >= 0; k--)
        {
            if (weights[k] > 0)
            {
                return k;
            }
        }
        return 0;
    }
}
