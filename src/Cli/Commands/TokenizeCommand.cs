using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Batcher.Tokenizers.Catalog;
using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Storage;
using StreamLoader.Core.Tokenization;
using StreamLoader.Provider;

namespace StreamLoader.Cli.Commands;

/// <summary>
/// <c>streamloader tokenize</c>: each document's ids as JSON Lines, in source order and without special tokens, so a
/// user can compare StreamLoader's tokenization with any other tool's on their own data.
/// </summary>
internal static class TokenizeCommand
{
    private static readonly Option<string> Output = new("--output", "-o") { Description = "Where the JSON Lines go: a file, or '-' for standard output.", DefaultValueFactory = _ => "-", HelpName = "path|-" };

    public static Command Create()
    {
        var command = new Command("tokenize", "Write each document's token ids as JSON Lines ({\"id\": ..., \"ids\": [...]}, no special tokens), in source order, to compare with another tokenizer.\n\n" +
            "Example:\n  streamloader tokenize --source docs.jsonl.gz --vocab bert-base-uncased-vocab.txt --output ids.jsonl");
        foreach (Option option in (Option[])[CliOptions.Source, CliOptions.Format, CliOptions.TextField, CliOptions.IdField, CliOptions.LabelColumn, .. CliOptions.FormatOptions, CliOptions.OnBadRecord, CliOptions.DecodeThreads, CliOptions.PartsAtOnce, CliOptions.ConnectTimeout, CliOptions.ResponseTimeout, CliOptions.StallTimeout, CliOptions.Tokenizer, CliOptions.Vocab, CliOptions.Merges, CliOptions.LowerCase])
        {
            command.Options.Add(option);
        }
        command.Options.Add(Output);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, CancellationToken cancellationToken)
    {
        try
        {
            ITextTokenizer tokenizer = TokenizerCatalog.Default.Create(CommandLineSettings.ReadTokenizer(result));
            IDocumentSource source = SourceFactory.Create(result.GetValue(CliOptions.Source)!, CommandLineSettings.ReadSource(result));
            string path = result.GetValue(Output)!;
            var clock = Stopwatch.StartNew();
            long documents = 0;
            long tokens = 0;
            Stream output = path == "-" ? Console.OpenStandardOutput() : OutputFileStream.Create(path);
            await using (output.ConfigureAwait(false))
            {
                var buffered = new BufferedStream(output, 1 << 16);
                await using (buffered.ConfigureAwait(false))
                {
                    using var writer = new Utf8JsonWriter(buffered, new JsonWriterOptions { SkipValidation = true });
                    using var ids = new TokenBuffer();
                    await foreach (Document document in source.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        ids.Clear();
                        tokenizer.Encode(document.Text, ids);
                        writer.WriteStartObject();
                        writer.WriteString("id", document.Id);
                        writer.WriteStartArray("ids");
                        foreach (int id in ids.Span)
                        {
                            writer.WriteNumberValue(id);
                        }
                        writer.WriteEndArray();
                        writer.WriteEndObject();
                        writer.Flush();
                        buffered.WriteByte((byte)'\n');
                        writer.Reset();
                        documents++;
                        tokens += ids.Count;
                    }
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;
            SourceStatistics stats = source.Statistics;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tokenize: {documents:N0} documents, {tokens:N0} tokens with {tokenizer.Name} in {seconds:0.0} s ({ProgressViews.Human(documents / seconds)} docs/s, {ProgressViews.Human(tokens / seconds)} tokens/s); {stats.RecordsRead:N0} records read, {stats.Skipped:N0} skipped"));
            if (documents == 0)
            {
                throw new InvalidDataException($"{source.Description}: no documents to read: {stats.RecordsRead:N0} records read, {stats.Skipped:N0} skipped. Check --source, --format and --text-field.");
            }
            return ExitCodes.Success;
        }
        catch (Exception ex)
        {
            return CommandErrors.Report(ex);
        }
    }
}
