using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Inference;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Tasks.Infer;

/// <summary>
/// Forms inference batches a window at a time. A window is up to <see cref="InferenceBatching.Window"/> consecutive
/// documents of one part of the source (keyed by where they stand in it, so a rank, a resumed run and a single process
/// all form the same windows). Sorted: the window's documents by length, longest first, into batches of at most
/// <see cref="InferenceBatching.MaxTokensPerBatch"/> tokens (rows × the first row's length), each trimmed to its
/// longest row. Fixed: input order, <see cref="InferenceBatching.BatchSize"/> rows of the full sequence length.
/// </summary>
/// <remarks>
/// Every batch of a window carries the window's first stream ordinal as its <c>resume_ordinal</c> (the lowest ordinal
/// the builder still holds), except the window's last, which carries the ordinal after the window and lists the
/// documents it gave no row: the writer can release every document below a batch's watermark, and a resumed run
/// starts at a window's first document.
/// </remarks>
internal sealed class InferenceBatchBuilder : IBatchBuilder
{
    private readonly BatchingContext _context;
    private readonly InferenceBatching _batching;
    private readonly int _width;
    private readonly List<Entry> _window = [];
    private int[] _slab = new int[1 << 16];
    private int _used;
    private readonly List<SkippedDocument> _skipped = [];
    private (int Part, long Block) _key = (-1, -1);
    private long _windowStart = -1;
    private long _lastOrdinal = -1;
    private long _sequence;
    private long _compareLeft;

    public InferenceBatchBuilder(BatchingContext context, InferenceBatching batching)
    {
        TaskTokens.Require(ClassifierInferenceTask.TaskName, context.Tokenizer, ("a start token (bos_token, [CLS], <s>)", context.Tokenizer.Special.Cls),
            ("a separator or end token (eos_token, [SEP], </s>)", context.Tokenizer.Special.Sep), ("a padding token", context.Tokenizer.Special.Pad));
        _context = context;
        _batching = batching;
        _width = context.SequenceLength - 2;
        _sequence = context.FirstBatchSequence;
        _compareLeft = batching.CompareDocuments;
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        Document source = document.Source;
        (int, long) key = (source.SourcePart, source.SourceOrdinal / _batching.Window);
        if (_windowStart >= 0 && key != _key)
        {
            Flush(completed);
        }
        if (_windowStart < 0)
        {
            _windowStart = source.Ordinal;
            _key = key;
        }
        _lastOrdinal = source.Ordinal;
        if (document.Count == 0)
        {
            _skipped.Add(new SkippedDocument(new SourcePosition(source.SourcePart, source.SourceOrdinal), "empty"));
            return;
        }
        if (document.Count > _width)
        {
            _context.Counters.Add("truncated");
        }
        int length = Math.Min(document.Count, _width);
        // The window's ids live in one slab reused from window to window: holding a window of documents needs no buffer per document.
        if (_used + length > _slab.Length)
        {
            Array.Resize(ref _slab, Math.Max(_slab.Length * 2, _used + length));
        }
        document.Ids[..length].CopyTo(_slab.AsSpan(_used));
        _window.Add(new Entry(source, _used, length, document.Count));
        _used += length;
    }

    public void Complete(List<TensorBatch> completed)
    {
        if (_windowStart >= 0)
        {
            Flush(completed);
        }
    }

    private void Flush(List<TensorBatch> completed)
    {
        string other = _batching.Layout == InferenceBatching.Sorted ? InferenceBatching.Fixed : InferenceBatching.Sorted;
        if (_compareLeft > 0 && _window.Count > 0)
        {
            // The first documents (in input order) again, in the other layout, for the device to time side by side.
            List<Entry> compared = _window.GetRange(0, (int)Math.Min(_compareLeft, _window.Count));
            foreach (List<Entry> rows in Batches(compared, other))
            {
                TensorBatch batch = Build(rows, other, _windowStart);
                batch.Metadata[BatchMetadataKeys.Comparison] = "true";
                completed.Add(batch);
            }
            _compareLeft -= compared.Count;
        }
        List<List<Entry>> batches = Batches(_window, _batching.Layout);
        if (batches.Count == 0)
        {
            // Only documents without tokens: a batch of no rows still tells the writer about them.
            batches.Add([]);
        }
        for (int i = 0; i < batches.Count; i++)
        {
            bool last = i == batches.Count - 1;
            TensorBatch batch = Build(batches[i], _batching.Layout, last ? _lastOrdinal + 1 : _windowStart);
            if (last && _skipped.Count > 0)
            {
                batch.Metadata[BatchMetadataKeys.SkippedDocuments] = SkippedDocument.ToMetadata(_skipped);
            }
            completed.Add(batch);
        }
        _used = 0;
        _window.Clear();
        _skipped.Clear();
        _windowStart = -1;
    }

    /// <summary><paramref name="entries"/> (in input order) grouped into batches of <paramref name="layout"/>.</summary>
    private List<List<Entry>> Batches(List<Entry> entries, string layout)
    {
        var batches = new List<List<Entry>>();
        if (layout == InferenceBatching.Fixed)
        {
            for (int start = 0; start < entries.Count; start += _batching.BatchSize)
            {
                batches.Add(entries.GetRange(start, Math.Min(_batching.BatchSize, entries.Count - start)));
            }
            return batches;
        }
        // Longest first (ties in input order), then as many rows as the budget holds at the first row's length.
        var sorted = new List<Entry>(entries);
        sorted.Sort((a, b) => a.Length != b.Length ? b.Length.CompareTo(a.Length) : a.Document.Ordinal.CompareTo(b.Document.Ordinal));
        int at = 0;
        while (at < sorted.Count)
        {
            int longest = sorted[at].Length + 2;
            int rows = Math.Max(1, _batching.MaxTokensPerBatch / longest);
            int take = Math.Min(rows, sorted.Count - at);
            batches.Add(sorted.GetRange(at, take));
            at += take;
        }
        return batches;
    }

    private TensorBatch Build(List<Entry> rows, string layout, long watermark)
    {
        bool fixedLayout = layout == InferenceBatching.Fixed;
        int height = fixedLayout && rows.Count > 0 ? _batching.BatchSize : rows.Count;
        int length = fixedLayout ? _context.SequenceLength : rows.Count == 0 ? 2 : rows.Max(r => r.Length) + 2;
        SpecialTokens special = _context.Tokenizer.Special;
        var batch = new TensorBatch(ClassifierInferenceTask.TaskName, _sequence++) { RowCount = rows.Count };
        Span<long> ids = batch.Add(TaskTensors.InputIds, TensorDType.I64, [height, length], clear: false).AsSpan<long>();
        ids.Fill(special.Pad);
        Span<long> mask = batch.Add(TaskTensors.AttentionMask, TensorDType.I64, [height, length]).AsSpan<long>();
        Span<long> parts = batch.Add(TaskTensors.SourcePart, TensorDType.I64, [height], clear: false).AsSpan<long>();
        Span<long> ordinals = batch.Add(TaskTensors.SourceOrdinal, TensorDType.I64, [height], clear: false).AsSpan<long>();
        Span<int> counts = batch.Add(TaskTensors.TokenCount, TensorDType.I32, [height]).AsSpan<int>();
        parts.Fill(-1);
        ordinals.Fill(-1);
        var rowIds = new List<string>(rows.Count);
        long tokens = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            Entry entry = rows[r];
            Span<long> row = ids.Slice(r * length, length);
            row[0] = special.Cls;
            for (int i = 0; i < entry.Length; i++)
            {
                row[i + 1] = _slab[entry.Offset + i];
            }
            row[entry.Length + 1] = special.Sep;
            mask.Slice(r * length, entry.Length + 2).Fill(1);
            parts[r] = entry.Document.SourcePart;
            ordinals[r] = entry.Document.SourceOrdinal;
            counts[r] = entry.Tokens;
            tokens += entry.Length + 2;
            rowIds.Add(entry.Document.Id);
        }
        batch.TokenCount = tokens;
        batch.Metadata[BatchMetadataKeys.SequenceLength] = length.ToString(CultureInfo.InvariantCulture);
        batch.Metadata[BatchMetadataKeys.Layout] = layout;
        batch.Metadata[BatchMetadataKeys.ResumeOrdinal] = watermark.ToString(CultureInfo.InvariantCulture);
        batch.Metadata[BatchMetadataKeys.ResumeOffset] = "0";
        batch.Metadata[BatchMetadataKeys.RowIds] = JsonSerializer.Serialize(rowIds, Common.RowIdsJsonContext.Default.ListString);
        return batch;
    }

    private sealed record Entry(Document Document, int Offset, int Length, int Tokens);
}
