using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Input;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// <c>streamloader scan</c>: streams a source through the provider alone (no tokenizer, no model) and reports its
/// format, documents, characters, bytes and skips, so a user can check a source before a long job.
/// </summary>
internal static class ScanCommand
{
    public static Command Create()
    {
        var command = new Command("scan", "Read a source through the provider alone and report what it holds: the detected format of each file, documents, characters, bytes read, skipped records (with reasons and the file and line or offset of the first few) and documents/s. Run it before a long job.\n\n" +
            "Examples:\n" +
            "  streamloader scan --source enwiki-20240101-cirrussearch-content.json.gz\n" +
            "  streamloader scan --source dataset.csv --text-column title,description --label-column tag\n" +
            "  streamloader scan --source train.tsv --columns text,labels,id --label-column labels --summary-json scan.json\n\n" +
            "Exit codes: 0 read to the end; 2 usage error; 3 input missing, malformed (with --on-bad-record fail), or without documents; 130 Ctrl+C.");
        foreach (Option option in (Option[])[CliOptions.Source, CliOptions.Weights, CliOptions.Format, CliOptions.TextField, CliOptions.IdField, CliOptions.LabelColumn, .. CliOptions.FormatOptions, CliOptions.OnBadRecord, CliOptions.DecodeThreads, CliOptions.PartsAtOnce, CliOptions.ConnectTimeout, CliOptions.ResponseTimeout, CliOptions.StallTimeout, CliOptions.Progress, CliOptions.SummaryJson, CliOptions.OutputFormat])
        {
            command.Options.Add(option);
        }
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, CancellationToken cancellationToken)
    {
        try
        {
            bool json = CliOptions.WantsJson(result);
            string[] locations = result.GetValue(CliOptions.Source)!;
            SourceSettings settings = CommandLineSettings.ReadSource(result);
            IReadOnlyList<double>? weights = CommandLineSettings.ReadWeights(result);
            SourceCatalog catalog = SourceFactory.Catalog;
            var formats = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var decompression = new SortedDictionary<string, string>(StringComparer.Ordinal);
            ISourceFormat? forced = catalog.Forced(settings);
            int threads = settings.Lines.DecodeThreadCount;
            foreach (string file in catalog.Expand(locations, settings))
            {
                (ISourceFormat detected, SourceProbe probe) = catalog.Detect(file, settings);
                formats[file] = (forced ?? detected).Name;
                decompression[file] = Decompression(probe.Compression, threads);
            }
            IDocumentSource source = SourceFactory.Create(locations, settings, weights);
            bool progress = result.GetValue(CliOptions.Progress) is not "none";
            var clock = Stopwatch.StartNew();
            long documents = 0;
            long characters = 0;
            long nextReport = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2;
            await foreach (Document document in source.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                documents++;
                characters += document.Length;
                if (progress && (documents & 255) == 0 && Stopwatch.GetTimestamp() > nextReport)
                {
                    nextReport = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2;
                    Console.Error.WriteLine(Line(source.Statistics, documents, clock.Elapsed.TotalSeconds, final: false));
                }
            }
            double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            SourceStatistics stats = source.Statistics;
            var summary = new ScanSummary(
                "streamloader.scan-summary/1",
                StreamLoader.Provider.Http.HttpCredentials.Mask(string.Join(' ', locations)),
                formats,
                documents,
                characters,
                stats.RecordsRead,
                stats.BytesRead,
                stats.RawBytesRead,
                stats.SkippedByReason,
                stats.Examples,
                stats.Resumes,
                seconds,
                documents / seconds,
                stats.BytesRead / seconds / 1e6,
                decompression);
            Console.Out.WriteLine(json ? System.Text.Json.JsonSerializer.Serialize(summary, SummaryJsonContext.Default.ScanSummary) : Report(summary));
            if (result.GetValue(CliOptions.SummaryJson) is { } path)
            {
                Core.Storage.JsonFile.WriteAtomic(path, summary, SummaryJsonContext.Default.ScanSummary);
            }
            if (documents == 0)
            {
                throw new InvalidDataException($"{source.Description}: no documents: {stats.RecordsRead:N0} records read, {stats.Skipped:N0} skipped. Check --source-format and --text-column.");
            }
            return ExitCodes.Success;
        }
        catch (Exception ex)
        {
            return CommandErrors.Report(ex);
        }
    }

    /// <summary>How an input's compression is undone: on how many threads, and for gzip why only one.</summary>
    private static string Decompression(CompressionKind kind, int threads) => kind switch
    {
        CompressionKind.None => "none",
        CompressionKind.Gzip => "gzip, on one thread (a gzip member inflates only from its start, so it cannot be split)",
        _ when threads > 1 && Compression.DecompressesInParallel(kind) => string.Create(CultureInfo.InvariantCulture, $"{Compression.Name(kind)}, {(kind == CompressionKind.Zstd ? "frames" : "streams")} on {threads} threads (--decode-threads)"),
        _ => $"{Compression.Name(kind)}, on one thread",
    };

    private static string Line(SourceStatistics stats, long documents, double seconds, bool final)
    {
        string read = stats.RawBytesTotal is long total && total > 0 ? $", {100.0 * stats.RawBytesRead / total:0.0}% of {ProgressViews.Human(total)}B" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture,
            $"scan{(final ? string.Empty : " …")}: {documents:N0} documents, {ProgressViews.Human(stats.BytesRead)}B{read} in {seconds:0.0} s ({ProgressViews.Human(documents / Math.Max(seconds, 1e-9))} docs/s), {stats.Skipped:N0} skipped");
    }

    private static string Report(ScanSummary s)
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"source      {s.Source}"),
        };
        foreach (IGrouping<string, KeyValuePair<string, string>> group in s.Formats.GroupBy(f => f.Value))
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"format      {group.Key}{(s.Formats.Count > 1 ? $" ({group.Count()} file{(group.Count() == 1 ? string.Empty : "s")})" : string.Empty)}"));
        }
        foreach (IGrouping<string, KeyValuePair<string, string>> group in s.Decompression.GroupBy(f => f.Value).Where(g => g.Key != "none"))
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"compression {group.Key}{(s.Decompression.Count > 1 ? $" ({group.Count()} file{(group.Count() == 1 ? string.Empty : "s")})" : string.Empty)}"));
        }
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"documents   {s.Documents:N0}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"characters  {s.Characters:N0}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"records     {s.RecordsRead:N0} read"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"bytes       {s.BytesRead:N0} read ({s.RawBytesRead:N0} raw)"));
        if (s.HttpResumes > 0)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"resumes     {s.HttpResumes:N0} dropped connections resumed"));
        }
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"skipped     {s.Skipped.Values.Sum():N0}{(s.Skipped.Count == 0 ? string.Empty : " (" + string.Join(", ", s.Skipped.Select(p => $"{p.Key} {p.Value:N0}")) + ")")}"));
        foreach ((string reason, IReadOnlyList<string> examples) in s.SkipExamples)
        {
            foreach (string example in examples)
            {
                lines.Add($"  {reason}: {example}");
            }
        }
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"rate        {s.DocumentsPerSecond:N0} docs/s, {s.MegabytesPerSecond:0.0} MB/s over {s.Seconds:0.00} s"));
        return string.Join(Environment.NewLine, lines);
    }
}
