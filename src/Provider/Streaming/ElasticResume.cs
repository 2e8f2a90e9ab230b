using System.Globalization;
using StreamLoader.Core.Diagnostics;

namespace StreamLoader.Provider.Streaming;

/// <summary>Where one rank of a globally dealt run stopped: its stream position and the tokens of that document it had trained.</summary>
/// <param name="Position">The position its checkpoint saved: the global stream at the next document the rank needs, with the deal (<see cref="ProviderPosition.Deal"/>).</param>
/// <param name="Offset">Tokens of that document already trained (its checkpoint's resume offset); 0 when none.</param>
public sealed record RankStop(ProviderPosition Position, long Offset);

/// <summary>A resume re-dealt among another number of ranks: where the global stream starts again, and this rank's deal.</summary>
/// <param name="Start">The global stream's position to read from (the furthest-behind old rank's); its <see cref="ProviderPosition.Deal"/> is the new one.</param>
/// <param name="Description">One line for the summary: "resumed 4 ranks as 2: global position …".</param>
public sealed record ElasticPlan(ProviderPosition Start, string Description);

/// <summary>
/// Plans a resume of a globally dealt run (<see cref="GlobalDeal"/>) with a different number of ranks: a pure function
/// of the old ranks' saved positions, the same on every new rank.
/// </summary>
/// <remarks>
/// Rank r of the old run trained every document dealt to it before its saved ordinal X_r, and the first o_r tokens of
/// the document at X_r. Every document before P = min X_r was therefore trained (by whichever rank it was dealt to); past
/// P, the documents some rank had already trained are listed to be passed over, and the part-trained ones carry their
/// offsets. The new ranks deal the rest from P, so over the two runs each token of each document is trained once. What
/// cannot be the same as an uninterrupted run is how tokens share rows: every rank packs its own documents, so rows are
/// cut differently whenever the world size differs, with or without a resume.
/// </remarks>
public static class ElasticResume
{
    /// <summary>Re-deals the stream the old ranks (<paramref name="stops"/>, by rank) left, for <paramref name="rank"/> of <paramref name="worldSize"/>.</summary>
    /// <exception cref="SettingsConflictException">The positions are not one run's: different deals, sources or settings, or a rank missing.</exception>
    public static ElasticPlan Redeal(IReadOnlyList<RankStop> stops, int worldSize, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        GlobalDeal old = Validate(stops);

        long start = long.MaxValue;
        long end = long.MinValue;
        int behind = 0;
        for (int r = 0; r < stops.Count; r++)
        {
            long next = stops[r].Position.EmittedTotal;
            if (next < start)
            {
                (start, behind) = (next, r);
            }
            end = Math.Max(end, next);
        }

        // Past the start: what an old rank trained already (dealt to it, before its saved ordinal), and what the deal
        // before had listed as trained.
        var skip = new SortedSet<long>(old.Skip.Where(s => s >= start));
        for (long ordinal = start; ordinal < end; ordinal++)
        {
            if (old.OwnerOf(ordinal) is int owner && ordinal < stops[owner].Position.EmittedTotal)
            {
                skip.Add(ordinal);
            }
        }
        var offsets = new Dictionary<long, long>();
        foreach ((long ordinal, long tokens) in old.Offsets)
        {
            if (ordinal >= start && !skip.Contains(ordinal))
            {
                offsets[ordinal] = tokens;
            }
        }
        for (int r = 0; r < stops.Count; r++)
        {
            long next = stops[r].Position.EmittedTotal;
            if (stops[r].Offset > 0 && old.OwnerOf(next) == r)
            {
                // The document it was in the middle of: whoever is dealt it now continues at its next token.
                offsets[next] = stops[r].Offset;
            }
        }

        var deal = new GlobalDeal
        {
            WorldSize = worldSize,
            Rank = rank,
            Start = start,
            Skip = [.. skip],
            Offsets = offsets,
            History = [.. old.History, worldSize],
        };
        ProviderPosition from = stops[behind].Position with { Deal = deal };
        string description = string.Create(
            CultureInfo.InvariantCulture,
            $"resumed {stops.Count} rank{(stops.Count == 1 ? string.Empty : "s")} as {worldSize}: global position {start:N0} (epoch {from.Epoch}, where old rank {behind} stood), "
            + $"{skip.Count:N0} document{(skip.Count == 1 ? string.Empty : "s")} past it already trained and passed over, {offsets.Count:N0} part-trained continuing at their next token; "
            + $"rank {rank} takes one in {worldSize} of the rest");
        return new ElasticPlan(from, description);
    }

    /// <summary>The deal the stops share; throws naming what differs when they are not one run's.</summary>
    private static GlobalDeal Validate(IReadOnlyList<RankStop> stops)
    {
        if (stops.Count == 0)
        {
            throw new SettingsConflictException("An elastic resume needs the positions of every rank of the run it continues; none was given.");
        }
        var problems = new List<string>();
        GlobalDeal? first = stops[0].Position.Deal;
        if (first is null)
        {
            throw new SettingsConflictException("The checkpoint's run split its source by rank (--sharding local), so its stream cannot be re-dealt among another number of ranks; resume it with its own --world-size, or start runs meant to change size with --sharding global.");
        }
        if (first.WorldSize != stops.Count)
        {
            problems.Add($"the run had {first.WorldSize} ranks but {stops.Count} positions were given");
        }
        ProviderPosition Settings(ProviderPosition p) => p with { Epoch = 0, EmittedInEpoch = 0, EmittedTotal = 0, PartitionCounts = null, Seek = null, Deal = null };
        for (int r = 0; r < stops.Count; r++)
        {
            ProviderPosition position = stops[r].Position;
            if (position.Deal is not { } deal)
            {
                problems.Add($"rank {r}'s position has no deal (--sharding local)");
                continue;
            }
            if (deal.Rank != r)
            {
                problems.Add($"position {r} is rank {deal.Rank}'s");
            }
            if (!deal.SameDealAs(first))
            {
                problems.Add($"rank {r} was dealt its documents differently from rank 0 (their checkpoints come from different runs)");
            }
            if (Settings(position) != Settings(stops[0].Position))
            {
                problems.Add($"rank {r}'s source or shuffle differs from rank 0's");
            }
        }
        if (problems.Count > 0)
        {
            throw new SettingsConflictException("The ranks' checkpoints are not one run's, so the stream cannot be re-dealt: " + string.Join("; ", problems) + ".");
        }
        return first;
    }
}
