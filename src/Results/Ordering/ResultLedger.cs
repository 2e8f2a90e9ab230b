using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;

namespace StreamLoader.Results.Ordering;

/// <summary>
/// Restores input order: every document the provider hands on is in its <see cref="DocumentRecordLog"/>, in stream order; predictions
/// come back in whatever order the batcher's sorted batches made; and once a batch's watermark says every document
/// below it is done, those documents leave here as rows, in the order they were read. A document that passes the
/// watermark with neither a prediction nor a skip would be lost: that is an error, never a missing row.
/// </summary>
public sealed class ResultLedger
{
    private readonly DocumentRecordLog _documents;
    private readonly Dictionary<SourcePosition, Prediction> _predictions = [];
    private readonly Dictionary<SourcePosition, string> _skipped = [];
    private readonly ResultSchema _schema;
    private readonly string _defaultSource;
    private readonly int _maxTokens;
    private readonly double _threshold;

    /// <param name="documents">The provider's record of the documents it emitted (keeping the schema's kept columns).</param>
    /// <param name="schema">The output's columns.</param>
    /// <param name="defaultSource">The source a document names when it carries no file of its own (a single-file source).</param>
    /// <param name="maxTokens">Tokens a row holds (seq_len − 2): a longer document is marked truncated.</param>
    /// <param name="threshold">Multi-label: a label is predicted when its probability exceeds this.</param>
    public ResultLedger(DocumentRecordLog documents, ResultSchema schema, string defaultSource, int maxTokens, double threshold)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(schema);
        if (!documents.KeepColumns.SequenceEqual(schema.KeepColumns, StringComparer.Ordinal))
        {
            throw new ArgumentException($"The document log keeps {string.Join(", ", documents.KeepColumns)}; the output keeps {string.Join(", ", schema.KeepColumns)}.", nameof(documents));
        }
        _documents = documents;
        _schema = schema;
        _defaultSource = defaultSource;
        _maxTokens = maxTokens;
        _threshold = threshold;
    }

    /// <summary>Documents the provider emitted that are not yet written.</summary>
    public int Pending => _documents.Count;

    /// <summary>
    /// Takes a batch's predictions and skips, then appends to <paramref name="finished"/> every document below its
    /// watermark, in input order. Throws <see cref="InvalidOperationException"/> for a document that would be lost.
    /// </summary>
    public void Accept(PredictionBatch batch, List<ResultRow> finished)
    {
        for (int row = 0; row < batch.Rows; row++)
        {
            _predictions[batch.Positions[row]] = new Prediction(batch.TokenCounts[row], batch.Row(row).ToArray());
        }
        foreach (SkippedDocument skipped in batch.Skipped)
        {
            _skipped[skipped.Position] = skipped.Reason;
        }
        Release(batch.Watermark, finished);
    }

    /// <summary>At the end of the stream: every registered document must have been released; throws naming the first that was not.</summary>
    public void CheckDrained()
    {
        if (_documents.TryPeek(out DocumentRecord? entry))
        {
            throw new InvalidOperationException($"{_documents.Count:N0} documents were read but never predicted nor skipped, the first {entry.Id} ({entry.SourceName ?? _defaultSource}, {entry.Position}): the batcher's last watermark did not pass them. This is a bug; please report it.");
        }
    }

    private void Release(long watermark, List<ResultRow> finished)
    {
        while (_documents.TryPeek(out DocumentRecord? entry) && entry.Ordinal < watermark)
        {
            _documents.TryTake(out _);
            if (_predictions.Remove(entry.Position, out Prediction? prediction))
            {
                finished.Add(Row(entry, prediction));
            }
            else if (_skipped.Remove(entry.Position, out string? reason))
            {
                finished.Add(new ResultRow { Id = entry.Id, Kept = entry.Kept, Status = reason == RowStatus.Empty ? RowStatus.Empty : reason, Tokens = 0, Source = entry.SourceName ?? _defaultSource, Position = entry.Position, Line = entry.Line, Offset = entry.Offset });
            }
            else
            {
                throw new InvalidOperationException($"Document {entry.Id} ({entry.SourceName ?? _defaultSource}, {entry.Position}) passed the batcher's watermark {watermark} with neither a prediction nor a skip: it would be lost. This is a bug; please report it.");
            }
        }
    }

    private ResultRow Row(DocumentRecord entry, Prediction prediction)
    {
        float[] p = prediction.Probabilities;
        string? label = null;
        string[]? labels = null;
        if (_schema.MultiLabel)
        {
            var chosen = new List<string>();
            for (int i = 0; i < p.Length; i++)
            {
                if (p[i] > _threshold)
                {
                    chosen.Add(_schema.LabelNames[i]);
                }
            }
            labels = [.. chosen];
        }
        else
        {
            label = _schema.LabelNames[PredictionBatch.Top(p)];
        }
        return new ResultRow
        {
            Id = entry.Id,
            Kept = entry.Kept,
            Status = prediction.Tokens > _maxTokens ? RowStatus.Truncated : RowStatus.Ok,
            Label = label,
            Labels = labels,
            Probabilities = p,
            Tokens = prediction.Tokens,
            Source = entry.SourceName ?? _defaultSource,
            Position = entry.Position,
            Line = entry.Line,
            Offset = entry.Offset,
        };
    }

    private sealed record Prediction(int Tokens, float[] Probabilities);
}
