using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Storage;
using StreamLoader.Results.Formats;
using StreamLoader.Results.Parts;

namespace StreamLoader.Results.Journal;

/// <summary>What a work folder belongs to: checked when a run continues it, so a run never mixes another's rows.</summary>
public sealed record WorkIdentity
{
    /// <summary>The rows' columns, labels, model and tokenizer hashes.</summary>
    public required string Columns { get; init; }

    /// <summary>The settings that decide the rows (source, filter, batching), as one line.</summary>
    public required string Settings { get; init; }

    public required int Rank { get; init; }

    public required int WorldSize { get; init; }
}

/// <summary>One journal line: a committed chunk (its file, rows, hash and the stream position after it), or the end.</summary>
public sealed record CommitRecord
{
    /// <summary>The chunk's file name in the work folder; null on the final line.</summary>
    public string? Chunk { get; init; }

    /// <summary>Rows written in the chunk.</summary>
    public long Rows { get; init; }

    /// <summary>Input documents the chunk accounts for (written or filtered out).</summary>
    public long Documents { get; init; }

    public long Bytes { get; init; }

    public string? Sha256 { get; init; }

    /// <summary>Every document of this rank's stream below this ordinal is in this chunk or an earlier one.</summary>
    public long NextOrdinal { get; init; }

    /// <summary>The provider's position at <see cref="NextOrdinal"/> (its own JSON), for a resumed run to continue from.</summary>
    public string? Position { get; init; }

    /// <summary>True on the last line: every chunk is in; only assembling the output remains.</summary>
    public bool Complete { get; init; }
}

/// <summary>
/// A rank's output while it is being written: chunk files, each written whole and renamed into the work folder before
/// a line for it is appended to <c>journal.jsonl</c> and flushed to the disk. A chunk without its line (a crash in
/// between) is not part of the output: a continued run deletes it and redoes its rows from the last line's position.
/// When every chunk is in, the chunks are joined into the final file (written beside it, then renamed), the completion
/// marker is written, and the work folder is removed.
/// </summary>
public sealed class ChunkJournal
{
    private const string IdentityFile = "run.json";
    private const string JournalFile = "journal.jsonl";
    private readonly OutputLayout _layout;
    private readonly ResultSchema _schema;
    private readonly WorkIdentity _identity;
    private readonly List<CommitRecord> _commits = [];

    private ChunkJournal(OutputLayout layout, ResultSchema schema, WorkIdentity identity)
    {
        _layout = layout;
        _schema = schema;
        _identity = identity;
    }

    /// <summary>The committed chunks, in order.</summary>
    public IReadOnlyList<CommitRecord> Commits => _commits;

    /// <summary>Rows in the committed chunks.</summary>
    public long CommittedRows => _commits.Sum(c => c.Rows);

    /// <summary>Documents the committed chunks account for.</summary>
    public long CommittedDocuments => _commits.Sum(c => c.Documents);

    /// <summary>The provider position after the last committed chunk (its JSON), or null to start at the beginning.</summary>
    public string? ResumePosition => _commits.Count > 0 ? _commits[^1].Position : null;

    /// <summary>The stream ordinal the next chunk starts at.</summary>
    public long NextOrdinal => _commits.Count > 0 ? _commits[^1].NextOrdinal : 0;

    /// <summary>True when the journal's last line says every chunk is in (a run that stopped while assembling).</summary>
    public bool AllCommitted { get; private set; }

    /// <summary>Chunks (uncommitted or half-written files) a continued run removed.</summary>
    public int DiscardedFiles { get; private set; }

    /// <summary>
    /// Opens the work folder of <paramref name="layout"/>: a new one, or the one a stopped run left, whose committed
    /// chunks are checked (size and SHA-256) and whose uncommitted files are removed. Throws
    /// <see cref="SettingsConflictException"/> when the folder belongs to a run with other settings.
    /// </summary>
    public static ChunkJournal Open(OutputLayout layout, ResultSchema schema, string settings)
    {
        var identity = new WorkIdentity { Columns = schema.Signature, Settings = settings, Rank = layout.Rank, WorldSize = layout.WorldSize };
        var journal = new ChunkJournal(layout, schema, identity);
        string folder = layout.WorkFolder;
        string identityPath = Path.Combine(folder, IdentityFile);
        if (!File.Exists(identityPath))
        {
            if (Directory.Exists(folder))
            {
                // Stopped before it wrote its identity: nothing in it was committed.
                Directory.Delete(folder, recursive: true);
            }
            Directory.CreateDirectory(folder);
            JsonFile.WriteAtomic(identityPath, identity, ResultsJsonContext.Default.WorkIdentity);
            return journal;
        }
        WorkIdentity saved = JsonFile.Read(identityPath, ResultsJsonContext.Default.WorkIdentity, "inference work folder identity");
        var differences = new List<string>();
        if (saved.Columns != identity.Columns)
        {
            differences.Add($"columns and model '{saved.Columns}' vs '{identity.Columns}'");
        }
        if (saved.Settings != identity.Settings)
        {
            differences.Add($"settings '{saved.Settings}' vs '{identity.Settings}'");
        }
        if (saved.Rank != identity.Rank || saved.WorldSize != identity.WorldSize)
        {
            differences.Add($"rank {saved.Rank}/{saved.WorldSize} vs {identity.Rank}/{identity.WorldSize}");
        }
        if (differences.Count > 0)
        {
            throw new SettingsConflictException($"{folder}: a stopped run with other settings left this work folder ({string.Join("; ", differences)}). Run it again as it was to finish it, or remove the folder to start over.");
        }
        journal.Recover();
        return journal;
    }

    private void Recover()
    {
        string folder = _layout.WorkFolder;
        string path = Path.Combine(folder, JournalFile);
        if (File.Exists(path))
        {
            byte[] bytes = File.ReadAllBytes(path);
            int start = 0;
            int line = 0;
            long good = 0;
            while (start < bytes.Length)
            {
                int end = Array.IndexOf(bytes, (byte)'\n', start);
                line++;
                if (end < 0)
                {
                    // A line cut off by a crash while it was being appended: its chunk was never committed.
                    break;
                }
                CommitRecord record;
                try
                {
                    record = JsonSerializer.Deserialize(bytes.AsSpan(start, end - start), JournalJsonContext.Default.CommitRecord)
                        ?? throw new JsonException("an empty line");
                }
                catch (JsonException ex)
                {
                    throw new InvalidDataException($"{path}: line {line} is not a commit record ({ex.Message}); the journal is damaged. Remove {folder} to start this rank over.", ex);
                }
                if (record.Complete)
                {
                    AllCommitted = true;
                }
                else
                {
                    Verify(record);
                    _commits.Add(record);
                }
                start = end + 1;
                good = start;
            }
            if (good < bytes.Length)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
                stream.SetLength(good);
            }
        }
        var committed = new HashSet<string>(_commits.Select(c => c.Chunk!), StringComparer.Ordinal) { IdentityFile, JournalFile };
        foreach (string file in Directory.EnumerateFiles(folder))
        {
            if (!committed.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
                DiscardedFiles++;
            }
        }
    }

    private void Verify(CommitRecord record)
    {
        string chunk = Path.Combine(_layout.WorkFolder, record.Chunk ?? throw new InvalidDataException($"{_layout.WorkFolder}: a commit record names no chunk."));
        if (!File.Exists(chunk))
        {
            throw new InvalidDataException($"{chunk}: the journal commits this chunk, but it is missing. Remove {_layout.WorkFolder} to start this rank over.");
        }
        (string sha, long bytes) = CompletionMarker.Hash(chunk);
        if (bytes != record.Bytes || sha != record.Sha256)
        {
            throw new InvalidDataException($"{chunk}: {bytes} bytes with SHA-256 {sha[..16]}…, but the journal committed {record.Bytes} bytes with {record.Sha256?[..Math.Min(16, record.Sha256.Length)]}…: the chunk changed after it was written. Remove {_layout.WorkFolder} to start this rank over.");
        }
    }

    /// <summary>
    /// Writes <paramref name="rows"/> as the next chunk and commits it: the file is written beside its final name,
    /// flushed to the disk and renamed, then its journal line is appended and flushed. Returns the record.
    /// </summary>
    public async Task<CommitRecord> CommitAsync(IReadOnlyList<ResultRow> rows, long documents, long nextOrdinal, string? position, CancellationToken cancellationToken)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"chunk-{_commits.Count:D6}{_layout.Format.Extensions[0]}");
        string path = Path.Combine(_layout.WorkFolder, name);
        string temp = StagedFile.TempFor(path);
        await using (IResultFileWriter writer = _layout.Format.Create(temp, _schema))
        {
            await writer.WriteAsync(rows, cancellationToken).ConfigureAwait(false);
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        StagedFile.Publish(temp, path);
        (string sha, long bytes) = CompletionMarker.Hash(path);
        var record = new CommitRecord { Chunk = name, Rows = rows.Count, Documents = documents, Bytes = bytes, Sha256 = sha, NextOrdinal = nextOrdinal, Position = position };
        Append(record);
        _commits.Add(record);
        return record;
    }

    private void Append(CommitRecord record)
    {
        byte[] line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, JournalJsonContext.Default.CommitRecord) + "\n");
        using var stream = new FileStream(Path.Combine(_layout.WorkFolder, JournalFile), FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Marks every chunk committed, joins the chunks into the final file (beside it, then renamed), writes the
    /// completion marker and removes the work folder. Returns the marker.
    /// </summary>
    public async Task<CompletionMarker> FinishAsync(string settings, CancellationToken cancellationToken)
    {
        if (!AllCommitted)
        {
            Append(new CommitRecord { Complete = true, NextOrdinal = NextOrdinal });
            AllCommitted = true;
        }
        string final = _layout.Final;
        string temp = StagedFile.TempFor(final);
        await using (IResultFileWriter writer = _layout.Format.Create(temp, _schema))
        {
            foreach (CommitRecord commit in _commits)
            {
                var rows = new List<ResultRow>(8192);
                await foreach (ResultRow row in _layout.Format.ReadAsync(Path.Combine(_layout.WorkFolder, commit.Chunk!), _schema, cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(row);
                    if (rows.Count == rows.Capacity)
                    {
                        await writer.WriteAsync(rows, cancellationToken).ConfigureAwait(false);
                        rows.Clear();
                    }
                }
                await writer.WriteAsync(rows, cancellationToken).ConfigureAwait(false);
            }
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        CompletionMarker marker = CompletionMarker.Seal(temp, final, _layout.Rank, _layout.WorldSize, CommittedRows, CommittedDocuments, _schema, settings);
        Directory.Delete(_layout.WorkFolder, recursive: true);
        return marker;
    }
}
