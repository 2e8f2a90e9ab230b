namespace StreamLoader.Tests.Infrastructure;

/// <summary>Finds the real test data in <c>../shared/data</c> next to the repository; tests that need it skip when it is absent.</summary>
public static class SharedData
{
    private static readonly Lazy<string?> s_root = new(FindRoot);

    /// <summary>The data folder, or null when <c>../shared/data</c> is not next to the repository.</summary>
    public static string? Root => s_root.Value;

    /// <summary>The repository root (the folder holding StreamLoader.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            DirectoryInfo? dir = new(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamLoader.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("Cannot find StreamLoader.sln above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The full path of a shared data file; skips the test with a clear message when it is missing (fails it where <see cref="Requirement.AllRequired"/>).</summary>
    public static string Require(string relativePath)
    {
        Requirement.SkipIfMissing(Root is null, $"../shared/data is not present next to the repository ({RepositoryRoot}); this test needs {relativePath}.");
        string path = Path.Combine(Root!, relativePath);
        Requirement.SkipIfMissing(!File.Exists(path), $"{path} is missing from ../shared/data.");
        return path;
    }

    public const string CirrusSample = "wiki/enwiki-sample-cirrussearch-content.json.gz";
    public const string BertVocab = "tokenizers/bert-base-uncased-vocab.txt";
    public const string PythonDocs = "text/python3.11-doc-3.11.2-rst.jsonl.gz";
    public const string Gpt2Encoder = "tokenizers/gpt2-encoder.json";
    public const string Gpt2Merges = "tokenizers/gpt2-vocab.bpe";
    public const string AlbertModel = "tokenizers/albert-30k-clean.model";

    private static string? FindRoot()
    {
        string candidate = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
