using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;
using StreamLoader.Provider.BuiltIn;
using StreamLoader.Provider.Jsonl;

namespace StreamLoader.Benchmarks;

/// <summary>The text every benchmark runs on, so their figures compare: ~2 MB of English prose.</summary>
internal static class BenchCorpus
{
    public const int TargetChars = 2_000_000;

    private static readonly Lazy<(string Name, Document[] Documents)> s_corpus = new(Load);

    public static string Name => s_corpus.Value.Name;

    public static Document[] Documents => s_corpus.Value.Documents;

    /// <summary>The BERT vocab from ../shared/data, or null (the benchmarks then use tiktoken cl100k).</summary>
    public static string? BertVocab => Shared("tokenizers/bert-base-uncased-vocab.txt");

    public static long CountTokens(ITextTokenizer tokenizer)
    {
        long total = 0;
        using var buffer = new TokenBuffer();
        foreach (Document document in Documents)
        {
            buffer.Clear();
            tokenizer.Encode(document.Text, buffer);
            total += buffer.Count;
        }
        return total;
    }

    private static (string, Document[]) Load()
    {
        string? jsonl = Shared("text/python3.11-doc-3.11.2-rst.jsonl.gz");
        IDocumentSource source = jsonl is null ? XmlDocumentationCorpus.Discover() : new JsonlDocumentReader(jsonl);
        var documents = new List<Document>();
        long chars = 0;
        IAsyncEnumerator<Document> e = source.ReadAsync().GetAsyncEnumerator();
        while (chars < TargetChars && e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
        {
            documents.Add(e.Current with { Ordinal = documents.Count });
            chars += e.Current.Length;
        }
        e.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return (source.Description, documents.ToArray());
    }

    public static string? Shared(string relative)
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamLoader.sln")))
        {
            dir = dir.Parent;
        }
        if (dir is null)
        {
            return null;
        }
        string path = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data", relative));
        return File.Exists(path) ? path : null;
    }
}
