using BenchmarkDotNet.Running;

namespace StreamLoader.Benchmarks;

/// <summary>Runs the benchmarks; pass BenchmarkDotNet arguments, for example <c>--filter '*' --job short</c>.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        Console.WriteLine($"corpus: {BenchCorpus.Name}, {BenchCorpus.Documents.Length} documents, {BenchCorpus.Documents.Sum(d => (long)d.Length):N0} chars");
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
