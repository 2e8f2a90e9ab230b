using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;

namespace StreamLoader.Benchmarks;

/// <summary>
/// Each reader alone, from local files holding the same documents (the benchmark corpus), through the catalog as
/// <c>--source</c> opens them: detection, decompression, parsing and the documents handed on. The two Wikipedia
/// formats read the shared dumps instead (106 articles; they hold other text). Figures are per whole file.
/// </summary>
[MemoryDiagnoser]
public class ReaderBenchmarks
{
    private string _folder = null!;
    private string _path = null!;

    [Params("jsonl", "jsonl.gz", "jsonl.zst", "jsonl.bz2", "csv", "arrow", "parquet", "cirrussearch.json.gz", "wikixml.xml.bz2")]
    public string Format { get; set; } = "jsonl";

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "streamloader-reader-bench");
        Directory.CreateDirectory(_folder);
        Document[] documents = BenchCorpus.Documents;
        _path = Path.Combine(_folder, "corpus." + Format);
        switch (Format)
        {
            case "cirrussearch.json.gz":
                _path = BenchCorpus.Shared("wiki/enwiki-sample-cirrussearch-content.json.gz") ?? throw new InvalidOperationException("needs ../shared/data");
                return;
            case "wikixml.xml.bz2":
                _path = BenchCorpus.Shared("wiki/enwiki-pages-articles-shortened-205pages.xml.bz2") ?? throw new InvalidOperationException("needs ../shared/data");
                return;
        }
        byte[] jsonl = Encoding.UTF8.GetBytes(string.Concat(documents.Select(d => JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = d.Id, ["text"] = d.Text }) + "\n")));
        switch (Format)
        {
            case "jsonl":
                File.WriteAllBytes(_path, jsonl);
                break;
            case "jsonl.gz":
                using (var gzip = new GZipStream(File.Create(_path), CompressionLevel.Optimal))
                {
                    gzip.Write(jsonl);
                }
                break;
            case "jsonl.zst":
                using (var compressor = new ZstdSharp.Compressor(3))
                {
                    File.WriteAllBytes(_path, compressor.Wrap(jsonl).ToArray());
                }
                break;
            case "jsonl.bz2":
                using (var bzip = new ICSharpCode.SharpZipLib.BZip2.BZip2OutputStream(File.Create(_path)))
                {
                    bzip.Write(jsonl);
                }
                break;
            case "csv":
                File.WriteAllText(_path, "id,text\n" + string.Concat(documents.Select(d => $"{d.Id},\"{d.Text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"\n")));
                break;
            case "arrow":
                WriteArrow(documents);
                break;
            case "parquet":
                WriteParquet(documents).GetAwaiter().GetResult();
                break;
        }
    }

    [Benchmark]
    public long Read()
    {
        long characters = 0;
        IDocumentSource source = SourceFactory.Create(_path);
        IAsyncEnumerator<Document> documents = source.ReadAsync().GetAsyncEnumerator();
        try
        {
            while (documents.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                characters += documents.Current.Length;
            }
        }
        finally
        {
            documents.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return characters;
    }

    private void WriteArrow(Document[] documents)
    {
        var ids = new StringArray.Builder();
        var texts = new StringArray.Builder();
        foreach (Document d in documents)
        {
            ids.Append(d.Id);
            texts.Append(d.Text);
        }
        var batch = new RecordBatch(new Schema.Builder().Field(f => f.Name("id").DataType(Apache.Arrow.Types.StringType.Default)).Field(f => f.Name("text").DataType(Apache.Arrow.Types.StringType.Default)).Build(),
            [ids.Build(), texts.Build()], documents.Length);
        using FileStream output = File.Create(_path);
        using var writer = new ArrowStreamWriter(output, batch.Schema);
        writer.WriteRecordBatch(batch);
        writer.WriteEnd();
    }

    private async Task WriteParquet(Document[] documents)
    {
        var id = new Parquet.Schema.DataField<string>("id");
        var text = new Parquet.Schema.DataField<string>("text");
        using FileStream output = File.Create(_path);
        await using Parquet.ParquetWriter writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(id, text), output);
        using Parquet.ParquetRowGroupWriter group = writer.CreateRowGroup();
        await group.WriteAsync(id, documents.Select(d => (string?)d.Id).ToArray());
        await group.WriteAsync(text, documents.Select(d => (string?)d.Text).ToArray());
    }
}
