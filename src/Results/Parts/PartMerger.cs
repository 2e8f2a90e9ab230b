using StreamLoader.Core.Inference;
using StreamLoader.Core.Storage;
using StreamLoader.Results.Formats;

namespace StreamLoader.Results.Parts;

/// <summary>What a merge joined.</summary>
public sealed record MergeResult(string Output, int Parts, long Rows, long Documents, CompletionMarker Marker);

/// <summary>
/// Joins the finished parts of a several-rank inference (<c>preds.part-0000r-of-0000W.jsonl</c>) into one output in
/// input order: each part is in source order already, so a k-way merge on each row's place in the source
/// (<c>source_part</c>, <c>source_ordinal</c>) restores the order a single process writes.
/// </summary>
public static class PartMerger
{
    /// <summary>
    /// Merges the parts of <paramref name="output"/>. Every rank's part must be finished (its marker present and
    /// matching the file) and all must come from one run's settings; otherwise an <see cref="InvalidDataException"/>
    /// says which is missing or differs.
    /// </summary>
    public static async Task<MergeResult> MergeAsync(string output, int? worldSize, CancellationToken cancellationToken)
    {
        OutputLayout layout = OutputLayout.For(output, 0, 1);
        IReadOnlyDictionary<int, SortedDictionary<int, string>> found = OutputLayout.FindParts(output);
        if (found.Count == 0)
        {
            throw new FileNotFoundException($"--merge {output}: no parts next to it ({Path.GetFileName(OutputLayout.PartPath(layout.Output, layout.Format, 0, 2)).Replace("00000-of-00002", "*-of-*", StringComparison.Ordinal)}). Run 'streamloader infer' with --world-size N (or under a launcher) first.");
        }
        int world = worldSize ?? (found.Count == 1 ? found.Keys.Single() : throw new InvalidDataException($"--merge {output}: parts of several runs lie there (world sizes {string.Join(", ", found.Keys.Order())}); give --world-size to choose."));
        if (!found.TryGetValue(world, out SortedDictionary<int, string>? parts))
        {
            throw new FileNotFoundException($"--merge {output}: no parts of world size {world} (found: {string.Join(", ", found.Keys.Order())}).");
        }
        var markers = new CompletionMarker[world];
        var missing = new List<string>();
        for (int rank = 0; rank < world; rank++)
        {
            string path = parts.GetValueOrDefault(rank) ?? OutputLayout.PartPath(layout.Output, layout.Format, rank, world);
            CompletionMarker? marker = File.Exists(path) ? CompletionMarker.Load(path) : null;
            if (marker is null)
            {
                missing.Add($"rank {rank} ({Path.GetFileName(path)}{(File.Exists(path + ".work") || Directory.Exists(path + ".work") ? ": still running or stopped; relaunch it" : File.Exists(path) ? ": no marker" : ": not started")})");
                continue;
            }
            markers[rank] = marker;
        }
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"--merge {output}: {missing.Count} of {world} parts are not finished: {string.Join("; ", missing)}.");
        }
        CompletionMarker first = markers[0];
        for (int rank = 1; rank < world; rank++)
        {
            if (markers[rank].Columns.Signature != first.Columns.Signature || markers[rank].Settings != first.Settings)
            {
                throw new InvalidDataException($"--merge {output}: part {rank} was made with other settings or another model than part 0 ('{markers[rank].Settings}' vs '{first.Settings}'); rerun the ranks alike.");
            }
        }
        foreach ((int rank, string path) in parts.Where(p => p.Key < world))
        {
            (string sha, long bytes) = CompletionMarker.Hash(path);
            if (sha != markers[rank].Sha256 || bytes != markers[rank].Bytes)
            {
                throw new InvalidDataException($"{path}: the file does not match its marker ({bytes} bytes vs {markers[rank].Bytes}); it changed after the rank finished it.");
            }
        }

        ResultSchema schema = first.Columns;
        string temp = StagedFile.TempFor(layout.Final);
        long rows = 0;
        await using (IResultFileWriter writer = layout.Format.Create(temp, schema))
        {
            var cursors = new List<IAsyncEnumerator<ResultRow>>();
            try
            {
                var heads = new PriorityQueue<int, SourcePosition>();
                for (int rank = 0; rank < world; rank++)
                {
                    IAsyncEnumerator<ResultRow> cursor = layout.Format.ReadAsync(parts[rank], schema, cancellationToken).GetAsyncEnumerator(cancellationToken);
                    cursors.Add(cursor);
                    if (await cursor.MoveNextAsync().ConfigureAwait(false))
                    {
                        heads.Enqueue(rank, cursor.Current.Position);
                    }
                }
                var batch = new List<ResultRow>(8192);
                SourcePosition? last = null;
                while (heads.TryDequeue(out int rank, out SourcePosition position))
                {
                    if (last is { } previous && position <= previous)
                    {
                        throw new InvalidDataException($"{parts[rank]}: row at {position} comes after {previous}: two parts hold the same record, or a part is out of order.");
                    }
                    last = position;
                    batch.Add(cursors[rank].Current);
                    if (batch.Count == batch.Capacity)
                    {
                        await writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                        rows += batch.Count;
                        batch.Clear();
                    }
                    if (await cursors[rank].MoveNextAsync().ConfigureAwait(false))
                    {
                        heads.Enqueue(rank, cursors[rank].Current.Position);
                    }
                }
                await writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                rows += batch.Count;
            }
            finally
            {
                foreach (IAsyncEnumerator<ResultRow> cursor in cursors)
                {
                    await cursor.DisposeAsync().ConfigureAwait(false);
                }
            }
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        long expected = markers.Sum(m => m.Rows);
        if (rows != expected)
        {
            File.Delete(temp);
            throw new InvalidDataException($"--merge {output}: read {rows:N0} rows from the parts, whose markers say {expected:N0}.");
        }
        CompletionMarker merged = CompletionMarker.Seal(temp, layout.Final, 0, 1, rows, markers.Sum(m => m.Documents), schema, first.Settings, world);
        return new MergeResult(layout.Final, world, rows, merged.Documents, merged);
    }
}
