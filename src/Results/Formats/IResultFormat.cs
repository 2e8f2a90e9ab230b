namespace StreamLoader.Results.Formats;

/// <summary>A file format inference results are written in, chosen by the output's extension.</summary>
public interface IResultFormat
{
    /// <summary>"jsonl", "arrow", "parquet".</summary>
    string Name { get; }

    /// <summary>The extensions that choose it (<c>.jsonl</c>), the first being the one its parts and chunks take.</summary>
    IReadOnlyList<string> Extensions { get; }

    /// <summary>Creates <paramref name="path"/> and writes rows into it batch by batch.</summary>
    IResultFileWriter Create(string path, ResultSchema schema);

    /// <summary>Streams the rows of a file this format wrote, in order.</summary>
    IAsyncEnumerable<ResultRow> ReadAsync(string path, ResultSchema schema, CancellationToken cancellationToken = default);
}

/// <summary>Writes one result file: each call to <see cref="WriteAsync"/> is one record batch or row group.</summary>
public interface IResultFileWriter : IAsyncDisposable
{
    /// <summary>Appends <paramref name="rows"/>.</summary>
    ValueTask WriteAsync(IReadOnlyList<ResultRow> rows, CancellationToken cancellationToken = default);

    /// <summary>Finishes the file (footer, index) and flushes it to the disk; a file not completed is not a valid one.</summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken = default);
}

/// <summary>The result formats, and the choice of one by a path's extension.</summary>
public static class ResultFormats
{
    /// <summary>Every format, JSON Lines first.</summary>
    public static IReadOnlyList<IResultFormat> All { get; } = [new JsonlResultFormat(), new ArrowResultFormat(), new ParquetResultFormat()];

    /// <summary>The format <paramref name="path"/>'s extension names; throws <see cref="ArgumentException"/> listing the extensions otherwise.</summary>
    public static IResultFormat ForPath(string path)
    {
        foreach (IResultFormat format in All)
        {
            foreach (string extension in format.Extensions)
            {
                if (path.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                {
                    return format;
                }
            }
        }
        throw new ArgumentException($"--output {path}: the extension does not say the format; end the name with {string.Join(", ", All.SelectMany(f => f.Extensions))}.");
    }

    /// <summary>The extension of <paramref name="path"/> that chose <paramref name="format"/> (as written).</summary>
    public static string ExtensionOf(string path, IResultFormat format) =>
        format.Extensions.First(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)) is { } extension ? path[^extension.Length..] : format.Extensions[0];
}
