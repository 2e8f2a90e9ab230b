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

    /// <summary>
    /// Documents the shuffle buffer holds before the first leaves; null for the default, 16 (see <see cref="ShuffleRule"/>). Equal to <see cref="ShuffleBuffer"/>, the buffer fills first.
    /// </summary>
    public int? ShuffleStart { get; init; }

    /// <summary>Passes over the source; 0 repeats until the consumer stops.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>
    /// When ranks split a source by document, they are dealt blocks of this many consecutive documents of one part
    /// (block i to rank i mod world size) instead of single documents. Inference sets it to its sort window, so a rank's
    /// windows are the windows a single process would form, and its results the same.
    /// </summary>
    public int ShardBlock { get; init; } = 1;

    /// <summary>
    /// Deal one global order among the ranks (<see cref="GlobalDeal"/>) instead of splitting the source by rank: every
    /// rank reads the whole source as one process would and keeps its share, so a resume may change the number of ranks.
    /// </summary>
    public bool GlobalOrder { get; init; }

    /// <summary>
    /// Parts of a many-part source (files, Parquet row groups) read together and taken in turns of
    /// <see cref="InterleaveTurn"/> documents (<see cref="PartInterleave"/>), so that several parts' reading and
    /// decompression run at once while the order stays a function of the settings; 1 takes each part whole, in turn. Part
    /// of the stream's order: a position pins it.
    /// </summary>
    public int Interleave { get; init; } = 1;

    /// <summary>Documents a part yields in its turn when parts interleave; part of the stream's order, pinned by a position.</summary>
    public int InterleaveTurn { get; init; } = PartInterleave.DefaultTurn;
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
    private ShuffleRule _shuffle;
    private int _interleave;
    private int _turn;

    // Who the source is split for: this rank (--sharding local), or no one (a global order, dealt after the shuffle).
    private readonly RankInfo _shardRank;
    private readonly ShardLayout _layout;
    private readonly PositionLog _positions;

    // The deal of a global order (set when reading starts: a resume's own, else a fresh one); null when the source is split.
    private GlobalDeal? _deal;

    public DocumentStream(IDocumentSource source, DocumentStreamOptions? options = null)
    {
        _source = source;
        _options = options ?? new DocumentStreamOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.ShuffleBuffer);
        ArgumentOutOfRangeException.ThrowIfNegative(_options.Epochs);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ShardBlock, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Interleave, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.InterleaveTurn, 1);
        _interleave = _options.Interleave;
        _turn = _options.InterleaveTurn;
        _shuffle = new ShuffleRule(_options.ShuffleBuffer, _options.ShuffleStart ?? ShuffleRule.DefaultStart(_options.ShuffleBuffer));
        if (_options.GlobalOrder && _options.ShardBlock > 1)
        {
            throw new ArgumentException("A global order is dealt document by document; it takes no shard block.", nameof(options));
        }
        _shardRank = _options.GlobalOrder ? RankInfo.Single : _options.Rank;
        _layout = new ShardLayout(_shardRank, _options.ShardBlock);
        _deal = _options.GlobalOrder ? GlobalDeal.Fresh(_options.Rank.WorldSize, _options.Rank.Rank) : null;
        _positions = new PositionLog(source, Planner(), () => Position);
    }

    /// <summary>Where the stream stood at each document it emitted: what downstream asks for a resume point (<see cref="PositionLog.PositionAt"/>).</summary>
    public PositionLog Positions => _positions;

    private ResumePlanner Planner() => new(_source, _layout, _options.Seed, _options.ShuffleBuffer, _shuffle, PartInterleave.WidthFor(_source, _interleave));

    /// <summary>Documents the shuffle buffer holds before the first leaves (a resumed stream keeps its position's).</summary>
    public int ShuffleStart => _shuffle.Start;

    /// <summary>The underlying source.</summary>
    public IDocumentSource Source => _source;

    private long _resumeSkipped;
    private long _resumeFilesSkipped;
    private long _otherRanks;

    /// <summary>Documents passed over while resuming (already emitted before the interruption).</summary>
    public long ResumeSkipped => Interlocked.Read(ref _resumeSkipped);

    /// <summary>The byte offset a resume of one file started reading at, or -1 when it read from the start.</summary>
    public long ResumeSeekedTo { get; private set; } = -1;

    /// <summary>Files a resume passed over without reading them (every document emitted before the saved position).</summary>
    public long ResumeFilesSkipped => Interlocked.Read(ref _resumeFilesSkipped);

    /// <summary>Documents of the source that belong to other ranks.</summary>
    public long OtherRanks => Interlocked.Read(ref _otherRanks);

    /// <summary>The epoch in progress.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>The position after the last document emitted.</summary>
    public ProviderPosition Position => new()
    {
        Fingerprint = _source.Fingerprint,
        Rank = _shardRank.Rank,
        WorldSize = _shardRank.WorldSize,
        Seed = _options.Seed,
        ShuffleBuffer = _options.ShuffleBuffer,
        ShuffleStart = _shuffle.Start,
        ShardBlock = _options.ShardBlock,
        Interleave = _interleave,
        InterleaveTurn = _turn,
        Epoch = Volatile.Read(ref _epoch),
        EmittedInEpoch = Interlocked.Read(ref _emittedInEpoch),
        EmittedTotal = Interlocked.Read(ref _emittedTotal),
        Deal = _deal,
    };

    /// <summary>Streams the documents, starting at <paramref name="resumeFrom"/> if given.</summary>
    public async IAsyncEnumerable<Document> ReadAsync(ProviderPosition? resumeFrom = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long skip = 0;
        _epoch = 0;
        _emittedTotal = 0;
        ResumePlan? plan = null;
        if (resumeFrom is not null)
        {
            Validate(resumeFrom);
            _deal = resumeFrom.Deal ?? _deal;
            // The position pins the order, its buffer's start included (0: saved before the start existed, when the buffer filled first).
            _shuffle = new ShuffleRule(_options.ShuffleBuffer, resumeFrom.ShuffleStart > 0 ? resumeFrom.ShuffleStart : _options.ShuffleBuffer);
            // And how parts interleave (0: saved before interleaving existed, when parts were read one at a time).
            _interleave = Math.Max(1, resumeFrom.Interleave);
            _turn = resumeFrom.InterleaveTurn > 0 ? resumeFrom.InterleaveTurn : PartInterleave.DefaultTurn;
            ResumePlanner planner = Planner();
            _positions.Use(planner);
            _epoch = resumeFrom.Epoch;
            _emittedTotal = resumeFrom.EmittedTotal - resumeFrom.EmittedInEpoch;
            skip = resumeFrom.EmittedInEpoch;
            plan = resumeFrom.PartitionCounts is { } counts && skip > 0 ? planner.Plan(_epoch, skip, counts, resumeFrom.Seek) : null;
        }

        for (; _options.Epochs == 0 || _epoch < _options.Epochs; Interlocked.Increment(ref _epoch))
        {
            _positions.PassStarted(_epoch, Interlocked.Read(ref _emittedTotal));
            _emittedInEpoch = 0;
            long emittedThisEpoch = 0;
            if (plan is not null)
            {
                // The plan starts the pass where it stood: what was emitted is passed over without being read again.
                emittedThisEpoch = skip;
                Interlocked.Add(ref _resumeSkipped, skip);
                Interlocked.Add(ref _emittedInEpoch, skip);
                Interlocked.Add(ref _emittedTotal, skip);
            }
            await foreach (Document document in EpochAsync(_epoch, plan, cancellationToken).ConfigureAwait(false))
            {
                if (emittedThisEpoch < skip)
                {
                    emittedThisEpoch++;
                    Interlocked.Increment(ref _resumeSkipped);
                    Interlocked.Increment(ref _emittedInEpoch);
                    Interlocked.Increment(ref _emittedTotal);
                    continue;
                }
                emittedThisEpoch++;
                long ordinal = Interlocked.Increment(ref _emittedTotal) - 1;
                Interlocked.Increment(ref _emittedInEpoch);
                if (_deal is { } deal && deal.OwnerOf(ordinal) is var owner && owner != deal.Rank)
                {
                    // A global order: dealt to another rank, or trained before this deal (by ranks of an earlier size).
                    Interlocked.Increment(ref owner is null ? ref _resumeSkipped : ref _otherRanks);
                    continue;
                }
                yield return document.Stamp(ordinal);
            }
            if (emittedThisEpoch == 0)
            {
                // An empty shard would otherwise spin forever when epochs are unbounded.
                yield break;
            }
            skip = 0;
            plan = null;
        }
    }

    private void Validate(ProviderPosition position)
    {
        var problems = new List<string>();
        if (position.Fingerprint != _source.Fingerprint)
        {
            problems.Add($"source '{position.Fingerprint}' vs '{_source.Fingerprint}'");
        }
        if (position.Rank != _shardRank.Rank || position.WorldSize != _shardRank.WorldSize)
        {
            problems.Add($"rank {position.Rank}/{position.WorldSize} vs {_shardRank.Rank}/{_shardRank.WorldSize}");
        }
        if (position.Seed != _options.Seed)
        {
            problems.Add($"seed {position.Seed} vs {_options.Seed}");
        }
        if (position.ShuffleBuffer != _options.ShuffleBuffer)
        {
            problems.Add($"shuffle buffer {position.ShuffleBuffer} vs {_options.ShuffleBuffer}");
        }
        if (position.ShardBlock != _options.ShardBlock && _shardRank.WorldSize > 1)
        {
            problems.Add($"shard block {position.ShardBlock} vs {_options.ShardBlock}");
        }
        if (position.Deal is { } deal)
        {
            if (!_options.GlobalOrder)
            {
                problems.Add("--sharding global (one order dealt among the ranks) vs local (the source split by rank)");
            }
            else if (deal.Rank != _options.Rank.Rank || deal.WorldSize != _options.Rank.WorldSize)
            {
                problems.Add($"rank {deal.Rank}/{deal.WorldSize} vs {_options.Rank.Rank}/{_options.Rank.WorldSize} (a position of another number of ranks is re-dealt first: ElasticResume)");
            }
        }
        else if (_options.GlobalOrder)
        {
            problems.Add("--sharding local (the source split by rank) vs global (one order dealt among the ranks)");
        }
        if (problems.Count > 0)
        {
            throw new SettingsConflictException("The saved position does not match this run, so it cannot be resumed exactly: " + string.Join("; ", problems) + ".");
        }
    }

    /// <summary>True when ranks split the source by file rather than by document (never for a global order).</summary>
    public bool ShardsByFile => _layout.ByFile(_source);

    /// <summary>One epoch of this rank's stream: the source's shard shuffled, or for a mix each component's shard shuffled and drawn by weight.</summary>
    private IAsyncEnumerable<Document> EpochAsync(int epoch, ResumePlan? plan, CancellationToken cancellationToken)
    {
        if (_source is MixedSource mix)
        {
            // Each component has its own order per pass (component k's cycle c of epoch e), and the draws their own seed.
            return mix.MixAsync(
                (k, cycle) => ShuffledShardAsync(mix.Components[k], Seeds.Derive(Seeds.Derive(_options.Seed, epoch, k + 1), cycle, 0xC1C1E), null, null, cancellationToken),
                (ulong)Seeds.Derive(_options.Seed, epoch, 0x3137),
                cancellationToken);
        }
        return ShuffledShardAsync(_source, ResumePlanner.PassSeed(_options.Seed, epoch), plan, _positions.CountsOf(epoch), cancellationToken);
    }

    /// <param name="source">The source (or a mix's component).</param>
    /// <param name="passSeed">Seeds this pass's file order and shuffle.</param>
    /// <param name="plan">Where a resume starts (the shuffle buffer's inputs and the generator), or null to start at the beginning.</param>
    /// <param name="counts">Where to record each finished file's document count, in this pass's file order, or null.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    private async IAsyncEnumerable<Document> ShuffledShardAsync(IDocumentSource source, int passSeed, ResumePlan? plan, List<long>? counts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int size = _options.ShuffleBuffer;
        // Our own generator: the order (and so every resume) must not change with the runtime's System.Random.
        Xoshiro256 random = plan?.Generator ?? ResumePlanner.Generator(passSeed);
        var buffer = new List<Document?>(Math.Min(size, 1 << 16));
        long firstInput = 0;
        if (plan is not null)
        {
            // Slots the saved buffer held, to be filled with their documents as those are read again.
            buffer.AddRange(new Document?[plan.Buffer.Count]);
            firstInput = plan.FirstInput;
        }
        await foreach ((Document document, long input) in ShardAsync(source, passSeed, plan, counts, cancellationToken).ConfigureAwait(false))
        {
            if (input < firstInput)
            {
                if (plan!.Slots.TryGetValue(input, out int slot))
                {
                    buffer[slot] = document;
                }
                continue;
            }
            if (size <= 1)
            {
                yield return document;
                continue;
            }
            int pick = _shuffle.Next(ref random, input, buffer.Count);
            if (pick < 0)
            {
                buffer.Add(document);
                continue;
            }
            Document chosen = buffer[pick] ?? throw new InvalidOperationException($"{source.Description}: a document the saved shuffle buffer held was not found again; the source changed since the position was saved.");
            buffer[pick] = document;
            yield return chosen;
        }
        // Drain the buffer in random order.
        for (int n = buffer.Count; n > 0; n--)
        {
            int pick = random.NextInt32(n);
            yield return buffer[pick] ?? throw new InvalidOperationException($"{source.Description}: a document the saved shuffle buffer held was not found again; the source changed since the position was saved.");
            buffer[pick] = buffer[n - 1];
        }
    }

    /// <summary>The pass's file order: shuffled per pass when shuffling, the same on every rank.</summary>
    private int[] PartitionOrder(IPartitionedSource parts, int passSeed)
    {
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
        return order;
    }


    /// <summary>This rank's documents of a source for one pass, before the shuffle buffer, each with its input index in the pass.</summary>
    private async IAsyncEnumerable<(Document Document, long Input)> ShardAsync(IDocumentSource source, int passSeed, ResumePlan? plan, List<long>? counts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long input = 0;
        if (source is IPartitionedSource parts && parts.PartitionCount > 1)
        {
            int[] order = PartitionOrder(parts, passSeed);
            bool byFile = _layout.ByFile(source);
            List<PartUnit> units = PartInterleave.UnitsOf(order.Length, _layout, byFile, PartInterleave.WidthFor(source, _interleave));
            // A resume passes over whole units whose documents were all emitted before the saved position.
            bool PassedOver(PartUnit unit) => plan is not null && unit.Start < plan.SkippedFiles.Length && plan.SkippedFiles[unit.Start];
            int[] toRead = units.Where(u => !PassedOver(u)).SelectMany(u => u.Reads).Select(p => order[p]).ToArray();
            await using var reader = new PartReader(parts, toRead, parts.PartsAtOnce, cancellationToken);
            long blocks = 0;
            foreach (PartUnit unit in units)
            {
                if (PassedOver(unit))
                {
                    // Move past it by its recorded counts, without opening its files.
                    long total = ShardLayout.Total(unit, plan!.Counts);
                    long owned = _layout.Owned(byFile, unit, blocks, plan.Counts);
                    input += owned;
                    Interlocked.Add(ref _otherRanks, total - owned);
                    blocks += _layout.BlocksOf(total);
                    Interlocked.Add(ref _resumeFilesSkipped, unit.Reads.Length);
                    PositionLog.Record(counts, plan.Counts.Skip(unit.Start).Take(unit.End - unit.Start));
                    continue;
                }
                int[] unitParts = unit.Reads.Select(p => order[p]).ToArray();
                var partCounts = new long[unitParts.Length];
                long read = 0;
                await foreach ((Document document, int slot, long inPart) in PartInterleave.TakeAsync(reader, unitParts, _turn, partCounts, cancellationToken).ConfigureAwait(false))
                {
                    long inUnit = read++;
                    if (!byFile && !_layout.OwnsDocument(blocks, inUnit))
                    {
                        Interlocked.Increment(ref _otherRanks);
                        continue;
                    }
                    yield return (document.StampSource(unitParts[slot], inPart), input++);
                }
                blocks += _layout.BlocksOf(read);
                // The unit's counts, by position (other ranks' files 0), recorded together at its end.
                PositionLog.Record(counts, Enumerable.Range(unit.Start, unit.End - unit.Start).Select(p => Array.IndexOf(unit.Reads, p) is int slot and >= 0 ? partCounts[slot] : 0));
            }
            yield break;
        }
        long index = 0;
        IAsyncEnumerable<Document> documents = source.ReadAsync(cancellationToken);
        List<SeekMark>? marks = null;
        if (counts is not null && source is ISeekableSource seekable)
        {
            marks = _positions.MarksOf(counts);
            if (plan?.Seek is { } seek)
            {
                // Start at a record read before instead of at the top of the file.
                documents = seekable.ReadFromAsync(seek.Offset, seek.Line, seek.Validator, cancellationToken);
                index = seek.Raw;
                input = seek.Input;
                ResumeSeekedTo = seek.Offset;
            }
        }
        await foreach (Document document in documents.ConfigureAwait(false))
        {
            if (marks is not null && document.SourceOffset >= 0 && (index & (MarkEvery - 1)) == 0)
            {
                lock (marks)
                {
                    marks.Add(new SeekMark(index, input, document.SourceOffset, document.SourceLine));
                }
            }
            long raw = index++;
            if (!_layout.OwnsDocument(0, raw))
            {
                Interlocked.Increment(ref _otherRanks);
                continue;
            }
            yield return (document.StampSource(document.SourcePart, raw), input++);
        }
        PositionLog.Record(counts, [index]);
    }

    // Every this many records of one seekable file, where the record starts is kept, for a resume to seek to.
    private const int MarkEvery = 256;
}
