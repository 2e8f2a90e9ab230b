using System.Collections.Concurrent;
using StreamLoader.Core.Documents;

namespace StreamLoader.Core.Inference;

/// <summary>One emitted document as a consumer that writes a row per input document needs it: never its text.</summary>
/// <param name="Ordinal">Its place in the stream (<see cref="Document.Ordinal"/>).</param>
/// <param name="Position">Where it stands in the source: its part and its ordinal there.</param>
/// <param name="Id">Its id.</param>
/// <param name="SourceName">The file it came from, or null for a single-file source.</param>
/// <param name="Line">Its line in that file, where the format has lines.</param>
/// <param name="Offset">Its byte offset in that file, where known.</param>
/// <param name="Kept">The values of the columns the log keeps, in <see cref="DocumentRecordLog.KeepColumns"/> order.</param>
public sealed record DocumentRecord(long Ordinal, SourcePosition Position, string Id, string? SourceName, long? Line, long? Offset, string?[] Kept);

/// <summary>
/// The provider's append-only record of the documents it emitted, in stream order, for a consumer that writes one row
/// per input document (inference): the provider appends a record as it emits each document, and the consumer takes
/// records from the front as its batches pass them. Nothing downstream runs on the provider's thread or holds a
/// document's text for it. Safe for one appending thread and one taking thread.
/// </summary>
public sealed class DocumentRecordLog
{
    private readonly ConcurrentQueue<DocumentRecord> _records = new();

    /// <param name="keepColumns">The metadata columns each record keeps (<c>--keep-columns</c>).</param>
    public DocumentRecordLog(IReadOnlyList<string> keepColumns)
    {
        ArgumentNullException.ThrowIfNull(keepColumns);
        KeepColumns = keepColumns;
    }

    /// <summary>The metadata columns each record keeps.</summary>
    public IReadOnlyList<string> KeepColumns { get; }

    /// <summary>Records appended and not yet taken.</summary>
    public int Count => _records.Count;

    /// <summary>Records <paramref name="document"/> (the provider's thread, in stream order).</summary>
    public void Append(Document document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var kept = new string?[KeepColumns.Count];
        for (int i = 0; i < kept.Length; i++)
        {
            kept[i] = document.Metadata?.GetValueOrDefault(KeepColumns[i]);
        }
        _records.Enqueue(new DocumentRecord(
            document.Ordinal,
            new SourcePosition(document.SourcePart, document.SourceOrdinal),
            document.Id,
            document.SourceName,
            document.SourceLine > 0 ? document.SourceLine : null,
            document.SourceOffset >= 0 ? document.SourceOffset : null,
            kept));
    }

    /// <summary>The oldest record not yet taken, if any.</summary>
    public bool TryPeek([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DocumentRecord? record) => _records.TryPeek(out record);

    /// <summary>Takes the oldest record, if any.</summary>
    public bool TryTake([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DocumentRecord? record) => _records.TryDequeue(out record);
}
