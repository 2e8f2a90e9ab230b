using System.Runtime.CompilerServices;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Randomness;
using StreamLoader.Provider.Mixing;

namespace StreamLoader.Provider.Streaming;

/// <summary>How a rank's document stream is formed from a source.</summary>
public sealed record DocumentStreamOptions
{
    /// <summary>
    /// This rank and the world size. A source of at least as many files as ranks is split by file (file i of the
    /// epoch's order goes to rank i mod world size); otherwise document i of the source goes to rank i mod world size.
    /// </summary>
    public RankInfo Rank { get; init; } = RankInfo.Single;

    /// <summary>Seed of the shuffle; each epoch derives its own order from it.</summary>
    public int Seed { get; init; }

    /// <summary>Streaming shuffle buffer in documents; 0 keeps source order.</summary>
    public int ShuffleBuffer { get; init; }

    /// <summary>Passes over the source; 0 repeats until the consumer stops.</summary>
    public int Epochs { get; init; } = 1;
}

/// <summary>
/// The provider's stream for one rank: shards a source by rank, shuffles it through a seeded buffer, repeats it for
/// the requested epochs, and can resume exactly from a saved <see cref="ProviderPosition"/>.
/// </summary>
/// <remarks>
/// Resuming replays the interrupted epoch in the same shuffled order and skips the documents already emitted, so no
/// document is lost or repeated. The skipped documents are counted in <see cref="ResumeSkipped"/>.
/// </remarks>
public sealed class DocumentStream
{
    private readonly IDocumentSource _source;
    private readonly DocumentStreamOptions _options;
    private int _epoch;
    private long _emittedInEpoch;
    private long _emittedTotal;
    private readonly List<(int Epoch, long StartOrdinal)> _epochStarts = [];

    public DocumentStream(IDocumentSource source, DocumentStreamOptions? options = null)
    {
        _source = source;
        _options = options ?? new DocumentStreamOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.ShuffleBuffer);
        ArgumentOutOfRangeException.ThrowIfNegative(_options.Epochs);
    }

    /// <summary>The underlying source.</summary>
    public IDocumentSource Source => _source;

    /// <summary>Documents passed over while resuming (already emitted before the interruption).</summary>
    public long ResumeSkipped { get; private set; }

    /// <summary>Documents of the source that belong to other ranks.</summary>
    public long OtherRanks { get; private set; }

    /// <summary>The epoch in progress.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>The position after the last document emitted.</summary>
    public ProviderPosition Position => new()
    {
        Fingerprint = _source.Fingerprint,
        Rank = _options.Rank.Rank,
        WorldSize = _options.Rank.WorldSize,
        Seed = _options.Seed,
        ShuffleBuffer = _options.ShuffleBuffer,
        Epoch = Volatile.Read(ref _epoch),
        EmittedInEpoch = Interlocked.Read(ref _emittedInEpoch),
        EmittedTotal = Interlocked.Read(ref _emittedTotal),
    };

    /// <summary>
    /// The position to resume from so that the next document emitted is the one with <paramref name="ordinal"/>
    /// (as stamped on <see cref="Document.Ordinal"/>). Used to save where the consumer, not the provider, has got to.
    /// </summary>
    public ProviderPosition PositionAt(long ordinal)
    {
        (int epoch, long start) = (0, 0);
        lock (_epochStarts)
        {
            foreach ((int e, long s) in _epochStarts)
            {
                if (s <= ordinal)
                {
                    (epoch, start) = (e, s);
                }
            }
        }
        return Position with { Epoch = epoch, EmittedInEpoch = ordinal - start, EmittedTotal = ordinal };
    }

    /// <summary>Streams the documents, starting at <paramref name="resumeFrom"/> if given.</summary>
    public async IAsyncEnumerable<Document> ReadAsync(ProviderPosition? resumeFrom = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long skip = 0;
        _epoch = 0;
        _emittedTotal = 0;
        if (resumeFrom is not null)
        {
            Validate(resumeFrom);
            _epoch = resumeFrom.Epoch;
            _emittedTotal = resumeFrom.EmittedTotal - resumeFrom.EmittedInEpoch;
            skip = resumeFrom.EmittedInEpoch;
        }

        for (; _options.Epochs == 0 || _epoch < _options.Epochs; Interlocked.Increment(ref _epoch))
        {
            lock (_epochStarts)
            {
                _epochStarts.Add((_epoch, Interlocked.Read(ref _emittedTotal)));
            }
            _emittedInEpoch = 0;
            long emittedThisEpoch = 0;
            await foreach (Document document in EpochAsync(_epoch, cancellationToken).ConfigureAwait(false))
            {
                if (emittedThisEpoch < skip)
                {
                    emittedThisEpoch++;
                    ResumeSkipped++;
                    Interlocked.Increment(ref _emittedInEpoch);
                    Interlocked.Increment(ref _emittedTotal);
                    continue;
                }
                emittedThisEpoch++;
                long ordinal = Interlocked.Increment(ref _emittedTotal) - 1;
                Interlocked.Increment(ref _emittedInEpoch);
                yield return document with { Ordinal = ordinal };
            }
            if (emittedThisEpoch == 0)
            {
                // An empty shard would otherwise spin forever when epochs are unbounded.
                yield break;
            }
            skip = 0;
        }
    }

    private void Validate(ProviderPosition position)
    {
        var problems = new List<string>();
        if (position.Fingerprint != _source.Fingerprint)
        {
            problems.Add($"source '{position.Fingerprint}' vs '{_source.Fingerprint}'");
        }
        if (position.Rank != _options.Rank.Rank || position.WorldSize != _options.Rank.WorldSize)
        {
            problems.Add($"rank {position.Rank}/{position.WorldSize} vs {_options.Rank.Rank}/{_options.Rank.WorldSize}");
        }
        if (position.Seed != _options.Seed)
        {
            problems.Add($"seed {position.Seed} vs {_options.Seed}");
        }
        if (position.ShuffleBuffer != _options.ShuffleBuffer)
        {
            problems.Add($"shuffle buffer {position.ShuffleBuffer} vs {_options.ShuffleBuffer}");
        }
        if (problems.Count > 0)
        {
            throw new SettingsConflictException("The saved position does not match this run, so it cannot be resumed exactly: " + string.Join("; ", problems) + ".");
        }
    }

    /// <summary>True when ranks split the source by file rather than by document.</summary>
    public bool ShardsByFile => ByFile(_source);

    private bool ByFile(IDocumentSource source) =>
        source is IPartitionedSource { PartitionCount: > 1 } parts && parts.PartitionCount >= _options.Rank.WorldSize && _options.Rank.WorldSize > 1;

    /// <summary>One epoch of this rank's stream: the source's shard shuffled, or for a mix each component's shard shuffled and drawn by weight.</summary>
    private IAsyncEnumerable<Document> EpochAsync(int epoch, CancellationToken cancellationToken)
    {
        if (_source is MixedSource mix)
        {
            // Each component has its own order per pass (component k's cycle c of epoch e), and the draws their own seed.
            return mix.MixAsync(
                (k, cycle) => ShuffledShardAsync(mix.Components[k], Seeds.Derive(Seeds.Derive(_options.Seed, epoch, k + 1), cycle, 0xC1C1E), cancellationToken),
                (ulong)Seeds.Derive(_options.Seed, epoch, 0x3137),
                cancellationToken);
        }
        return ShuffledShardAsync(_source, Seeds.Derive(_options.Seed, epoch, 0), cancellationToken);
    }

    private async IAsyncEnumerable<Document> ShuffledShardAsync(IDocumentSource source, int passSeed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int size = _options.ShuffleBuffer;
        // Our own generator: the order (and so every resume) must not change with the runtime's System.Random.
        var random = new Xoshiro256((ulong)Seeds.Derive(passSeed, 0x5EED));
        var buffer = new List<Document>(Math.Min(size, 1 << 16));
        await foreach (Document document in ShardAsync(source, passSeed, cancellationToken).ConfigureAwait(false))
        {
            if (size <= 1)
            {
                yield return document;
                continue;
            }
            if (buffer.Count < size)
            {
                buffer.Add(document);
                continue;
            }
            int pick = random.NextInt32(size);
            Document chosen = buffer[pick];
            buffer[pick] = document;
            yield return chosen;
        }
        // Drain the buffer in random order.
        for (int n = buffer.Count; n > 0; n--)
        {
            int pick = random.NextInt32(n);
            yield return buffer[pick];
            buffer[pick] = buffer[n - 1];
        }
    }

    /// <summary>This rank's documents of a source for one pass, before the shuffle buffer.</summary>
    private async IAsyncEnumerable<Document> ShardAsync(IDocumentSource source, int passSeed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (source is IPartitionedSource parts && parts.PartitionCount > 1)
        {
            // Files in an order shuffled per epoch (when shuffling), the same on every rank, so the ranks' shares
            // are disjoint and together cover every file.
            int[] order = Enumerable.Range(0, parts.PartitionCount).ToArray();
            if (_options.ShuffleBuffer > 0)
            {
                var random = new Xoshiro256((ulong)Seeds.Derive(passSeed, 0xF11E));
                for (int i = order.Length - 1; i > 0; i--)
                {
                    int j = random.NextInt32(i + 1);
                    (order[i], order[j]) = (order[j], order[i]);
                }
            }
            bool byFile = ByFile(source);
            long ordinal = 0;
            for (int position = 0; position < order.Length; position++)
            {
                if (byFile && position % _options.Rank.WorldSize != _options.Rank.Rank)
                {
                    continue;
                }
                await foreach (Document document in parts.ReadPartitionAsync(order[position], cancellationToken).ConfigureAwait(false))
                {
                    if (!byFile && !_options.Rank.Owns(ordinal++))
                    {
                        OtherRanks++;
                        continue;
                    }
                    yield return document;
                }
            }
            yield break;
        }
        long index = 0;
        await foreach (Document document in source.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_options.Rank.Owns(index++))
            {
                OtherRanks++;
                continue;
            }
            yield return document;
        }
    }
}
