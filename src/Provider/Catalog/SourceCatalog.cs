using System.Text;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Catalog;

/// <summary>
/// The formats the provider reads, and the one place that turns what a user typed after <c>--source</c> into a
/// source: it expands folders, globs and lists into files, tells each file's format from its content (the name is
/// only a hint), and opens it.
/// </summary>
public sealed class SourceCatalog
{
    private readonly List<ISourceFormat> _formats = [];

    /// <summary>The name that selects the built-in corpus.</summary>
    public const string BuiltInName = "builtin";

    /// <summary>A catalog with the given formats, in priority order (an earlier one wins a tie in detection).</summary>
    public SourceCatalog(IEnumerable<ISourceFormat> formats)
    {
        foreach (ISourceFormat format in formats)
        {
            Register(format);
        }
    }

    /// <summary>The registered formats, in priority order.</summary>
    public IReadOnlyList<ISourceFormat> Formats => _formats;

    /// <summary>Adds a format; its name and aliases must be new.</summary>
    public void Register(ISourceFormat format)
    {
        foreach (string name in format.Aliases.Prepend(format.Name))
        {
            if (TryFind(name, out ISourceFormat? existing))
            {
                throw new ArgumentException($"The format name '{name}' is taken by '{existing.Name}'.", nameof(format));
            }
        }
        _formats.Add(format);
    }

    /// <summary>Every format-specific option, once each, with the formats that take it.</summary>
    public IReadOnlyList<(SourceOptionInfo Option, IReadOnlyList<string> Formats)> Options =>
        _formats.SelectMany(f => f.Options.Select(o => (Option: o, Format: f.Name)))
            .GroupBy(x => x.Option.Name, StringComparer.Ordinal)
            .Select(g => (g.First().Option, (IReadOnlyList<string>)g.Select(x => x.Format).ToList()))
            .ToList();

    /// <summary>The format with this name or alias.</summary>
    public bool TryFind(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ISourceFormat? format)
    {
        format = _formats.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)
            || f.Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)));
        return format is not null;
    }

    /// <summary>The format named in <paramref name="settings"/>, or null for <c>auto</c>.</summary>
    /// <exception cref="ArgumentException">No format has that name; the message lists them.</exception>
    public ISourceFormat? Forced(SourceSettings settings)
    {
        if (string.Equals(settings.Format, "auto", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        return TryFind(settings.Format, out ISourceFormat? format)
            ? format
            : throw new ArgumentException($"--source-format {settings.Format}: no such format; expected auto or one of {string.Join(", ", _formats.Select(f => f.Name))}.");
    }

    /// <summary>Opens what was given after one or more <c>--source</c>: a path, a URL, a folder, a glob or an <c>@list</c> file each.</summary>
    /// <exception cref="SourceFormatException">A file's format cannot be told; the message says what it starts with.</exception>
    /// <exception cref="FileNotFoundException">A path does not exist, or a glob matches nothing.</exception>
    /// <param name="locations">What followed each <c>--source</c>.</param>
    /// <param name="settings">Format, columns and policies.</param>
    /// <param name="http">The client for URLs, or null for the provider's own.</param>
    /// <param name="statistics">Counters to count into (a mix passes a child of its own), or null for the source's own.</param>
    public IDocumentSource Open(IReadOnlyList<string> locations, SourceSettings settings, HttpClient? http = null, SourceStatistics? statistics = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(locations.Count);
        IReadOnlyList<string> files = Expand(locations, settings);
        if (files.Count == 1)
        {
            return OpenOne(files[0], settings, http, statistics);
        }
        return new FileSetSource(files, (location, parent) => OpenOne(location, settings, http, parent), settings.Columns + "|" + settings.Format, statistics, settings.Lines.PartsAtOnceCount);
    }

    /// <summary>Opens one path, URL or dataset folder, detecting its format unless it is forced.</summary>
    public IDocumentSource OpenOne(string location, SourceSettings settings, HttpClient? http, SourceStatistics? statistics)
    {
        ISourceFormat format = Forced(settings) ?? Detect(location, settings, http).Format;
        return format.Open(location, settings, http, statistics);
    }

    /// <summary>Tells the format of one path, URL or folder from its content, with its name only as a hint.</summary>
    public (ISourceFormat Format, SourceProbe Probe) Detect(string location, SourceSettings settings, HttpClient? http = null)
    {
        SourceProbe probe = Probe(location, settings, http);
        ISourceFormat? best = null;
        SniffResult bestScore = SniffResult.No;
        foreach (ISourceFormat format in _formats)
        {
            SniffResult score = format.Sniff(probe);
            if (score > bestScore)
            {
                (best, bestScore) = (format, score);
            }
        }
        if (best is null)
        {
            string starts = probe.IsDirectory ? "it is a folder without state.json or dataset_dict.json" : $"it starts with {Preview(probe.Head.Span)}";
            throw new SourceFormatException(location, "byte offset 0",
                $"cannot tell its format ({starts}{(probe.Compression != CompressionKind.None ? $", after {Compression.Name(probe.Compression)} decompression" : string.Empty)}); " +
                $"pass --source-format, one of {string.Join(", ", _formats.Select(f => f.Name))}.");
        }
        return (best, probe);
    }

    /// <summary>Reads what detection looks at: for a file or URL its first 64 KiB, decompressed.</summary>
    public static SourceProbe Probe(string location, SourceSettings settings, HttpClient? http)
    {
        string name = NameOf(location);
        if (string.Equals(location, BuiltInName, StringComparison.OrdinalIgnoreCase) || Directory.Exists(location))
        {
            return new SourceProbe { Location = location, NameHint = name, IsDirectory = !string.Equals(location, BuiltInName, StringComparison.OrdinalIgnoreCase) };
        }
        // Detection runs before the pipeline starts, so a blocking open here is fine.
        using OpenedInput input = OpenedInput.OpenAsync(location, http, settings.Http).GetAwaiter().GetResult();
        bool whole = input.Head.Length < OpenedInput.HeadBytes;
        return new SourceProbe
        {
            Location = location,
            NameHint = Compression.StripExtension(name).ToLowerInvariant(),
            Compression = input.Compression,
            // A copy: the input's head goes back to the pool when it closes.
            Head = input.Head.ToArray(),
            HeadIsWhole = whole,
        };
    }

    /// <summary>The files a list of <c>--source</c> values stands for, in order.</summary>
    public IReadOnlyList<string> Expand(IReadOnlyList<string> locations, SourceSettings settings)
    {
        var files = new List<string>();
        foreach (string location in locations)
        {
            if (location.StartsWith('@'))
            {
                string list = location[1..];
                if (!File.Exists(list))
                {
                    throw new FileNotFoundException($"{list}: no such list file (a --source starting with @ names a file that lists paths and URLs, one per line).", list);
                }
                foreach (string line in File.ReadLines(list))
                {
                    string entry = line.Trim();
                    if (entry.Length > 0 && !entry.StartsWith('#'))
                    {
                        files.AddRange(Expand([entry], settings));
                    }
                }
            }
            else if (!InputIdentity.TryParseHttpUrl(location, out _) && (location.Contains('*') || location.Contains('?')))
            {
                string directory = Path.GetDirectoryName(location) is { Length: > 0 } d ? d : ".";
                string pattern = Path.GetFileName(location);
                string[] matches = Directory.Exists(directory) ? Directory.GetFiles(directory, pattern) : [];
                if (matches.Length == 0)
                {
                    throw new FileNotFoundException($"{location}: the pattern matches no file.", location);
                }
                Array.Sort(matches, StringComparer.Ordinal);
                files.AddRange(matches);
            }
            else if (Directory.Exists(location) && !IsDatasetFolder(location, settings))
            {
                string[] inside = Directory.GetFiles(location).Where(f => !Path.GetFileName(f).StartsWith('.')).ToArray();
                if (inside.Length == 0)
                {
                    throw new FileNotFoundException($"{location}: the folder has no files.", location);
                }
                Array.Sort(inside, StringComparer.Ordinal);
                files.AddRange(inside);
            }
            else
            {
                // Credentials in a URL leave the location here, before anything prints or saves it.
                files.Add(Http.HttpCredentials.Strip(location));
            }
        }
        return files;
    }

    // A folder some format reads as a whole (a Hugging Face dataset) rather than as a set of files.
    private bool IsDatasetFolder(string folder, SourceSettings settings)
    {
        var probe = new SourceProbe { Location = folder, NameHint = NameOf(folder), IsDirectory = true };
        return (Forced(settings) is { } forced ? [forced] : _formats).Any(f => f.Sniff(probe) != SniffResult.No);
    }

    private static string NameOf(string location)
    {
        if (InputIdentity.TryParseHttpUrl(location, out Uri? uri))
        {
            return Path.GetFileName(uri.AbsolutePath);
        }
        return Path.GetFileName(Path.TrimEndingDirectorySeparator(location));
    }

    private static string Preview(ReadOnlySpan<byte> head)
    {
        if (head.IsEmpty)
        {
            return "nothing: it is empty";
        }
        ReadOnlySpan<byte> start = head[..Math.Min(head.Length, 24)];
        string text = Encoding.UTF8.GetString(start);
        bool printable = text.All(c => c >= ' ' || c is '\n' or '\r' or '\t');
        return printable ? $"\"{text.ReplaceLineEndings("\\n")}\"" : $"the bytes {Convert.ToHexString(start[..Math.Min(start.Length, 8)])}";
    }
}
