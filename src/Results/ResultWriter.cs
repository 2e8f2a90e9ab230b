using System.Diagnostics;
using StreamLoader.Core.Inference;
using StreamLoader.Results.Journal;
using StreamLoader.Results.Ordering;
using StreamLoader.Results.Parts;

namespace StreamLoader.Results;

/// <summary>How the result writer filters and commits.</summary>
public sealed record ResultWriterOptions
{
    /// <summary>Keep only rows with one of these labels (NeMo Curator's <c>filter_by</c>); empty keeps every row.</summary>
    public IReadOnlySet<string> FilterBy { get; init; } = new HashSet<string>();

    /// <summary>A chunk is committed once it holds this many documents (at a watermark) …</summary>
    public int ChunkDocuments { get; init; } = 4096;

    /// <summary>… or once this long has passed since the last commit, so a killed run loses little work.</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The end of an inference run: takes predictions, lets the ledger put them back in input order, filters, and
/// commits the rows in chunks through the journal; at the end it assembles the output and writes its marker.
/// </summary>
public sealed class ResultWriter
{
    private readonly ResultLedger _ledger;
    private readonly ChunkJournal _journal;
    private readonly ResultWriterOptions _options;
    private readonly ResultSchema _schema;
    private readonly Func<long, string?> _positionAt;
    private readonly List<ResultRow> _finished = [];
    private readonly List<ResultRow> _chunk = [];
    private readonly long[] _labelCounts;
    private long _chunkDocuments;
    private long _watermark;
    private long _documents;
    private long _rows;
    private long _filteredOut;
    private long _empty;
    private long _truncated;
    private long _chunks;

    /// <param name="ledger">Where the documents wait for their predictions.</param>
    /// <param name="journal">The rank's work folder.</param>
    /// <param name="schema">The output's columns.</param>
    /// <param name="options">Filtering and commit cadence.</param>
    /// <param name="positionAt">The provider position (its JSON) at a stream ordinal, saved with each commit.</param>
    public ResultWriter(ResultLedger ledger, ChunkJournal journal, ResultSchema schema, ResultWriterOptions options, Func<long, string?> positionAt)
    {
        _ledger = ledger;
        _journal = journal;
        _schema = schema;
        _options = options;
        _positionAt = positionAt;
        _labelCounts = new long[schema.LabelNames.Count];
        _watermark = journal.NextOrdinal;
    }

    /// <summary>Documents written or filtered out by this run.</summary>
    public long Documents => Interlocked.Read(ref _documents);

    /// <summary>Rows this run committed.</summary>
    public long Rows => Interlocked.Read(ref _rows);

    /// <summary>Rows <see cref="ResultWriterOptions.FilterBy"/> left out.</summary>
    public long FilteredOut => Interlocked.Read(ref _filteredOut);

    /// <summary>Documents with no tokens: written unclassified.</summary>
    public long Empty => Interlocked.Read(ref _empty);

    /// <summary>Documents classified on their first tokens only.</summary>
    public long Truncated => Interlocked.Read(ref _truncated);

    /// <summary>Chunks this run committed.</summary>
    public long Chunks => Interlocked.Read(ref _chunks);

    /// <summary>Documents predicted per label (single-label: the label chosen; multi-label: each label over the threshold), before filtering.</summary>
    public IReadOnlyDictionary<string, long> LabelCounts => _schema.LabelNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => Interlocked.Read(ref _labelCounts[p.i]));

    /// <summary>The marker of the finished output, once <see cref="RunAsync"/> has finished it.</summary>
    public CompletionMarker? Marker { get; private set; }

    /// <summary>Writes until <paramref name="predictions"/> ends, then finishes the output (with <paramref name="settings"/> in its marker).</summary>
    public async Task RunAsync(IAsyncEnumerable<PredictionBatch> predictions, string settings, CancellationToken cancellationToken)
    {
        var sinceCommit = Stopwatch.StartNew();
        try
        {
            await foreach (PredictionBatch batch in predictions.ConfigureAwait(false))
            {
                _finished.Clear();
                _ledger.Accept(batch, _finished);
                Take(_finished);
                if (batch.Watermark > _watermark)
                {
                    _watermark = batch.Watermark;
                }
                if (_chunkDocuments > 0 && (_chunkDocuments >= _options.ChunkDocuments || sinceCommit.Elapsed >= _options.CommitInterval))
                {
                    await CommitAsync(cancellationToken).ConfigureAwait(false);
                    sinceCommit.Restart();
                }
            }
        }
        catch (Exception) when (_chunkDocuments > 0)
        {
            // Stopped (Ctrl+C, SIGTERM) or failed upstream: the rows already in order are whole; keep them, so a
            // relaunch starts after them.
            await CommitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        _ledger.CheckDrained();
        if (_chunkDocuments > 0)
        {
            await CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        Marker = await _journal.FinishAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    private void Take(List<ResultRow> rows)
    {
        foreach (ResultRow row in rows)
        {
            _chunkDocuments++;
            Interlocked.Increment(ref _documents);
            if (row.Status == RowStatus.Empty)
            {
                Interlocked.Increment(ref _empty);
            }
            else if (row.Status == RowStatus.Truncated)
            {
                Interlocked.Increment(ref _truncated);
            }
            bool keep = _options.FilterBy.Count == 0;
            if (row.Label is { } label)
            {
                Interlocked.Increment(ref _labelCounts[IndexOf(label)]);
                keep |= _options.FilterBy.Contains(label);
            }
            foreach (string each in row.Labels ?? [])
            {
                Interlocked.Increment(ref _labelCounts[IndexOf(each)]);
                keep |= _options.FilterBy.Contains(each);
            }
            if (keep)
            {
                _chunk.Add(row);
            }
            else
            {
                Interlocked.Increment(ref _filteredOut);
            }
        }
    }

    private int IndexOf(string label)
    {
        for (int i = 0; i < _schema.LabelNames.Count; i++)
        {
            if (_schema.LabelNames[i] == label)
            {
                return i;
            }
        }
        throw new InvalidOperationException($"Label '{label}' is not one of the model's.");
    }

    private async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _journal.CommitAsync(_chunk, _chunkDocuments, _watermark, _positionAt(_watermark), cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _rows, _chunk.Count);
        Interlocked.Increment(ref _chunks);
        _chunk.Clear();
        _chunkDocuments = 0;
    }
}
