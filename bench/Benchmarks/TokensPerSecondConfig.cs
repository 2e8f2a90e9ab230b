using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace StreamLoader.Benchmarks;

/// <summary>Adds "Tokens/s" (document tokens of the shared corpus over the mean time) and the corpus size.</summary>
public sealed class TokensPerSecondConfig : ManualConfig
{
    public TokensPerSecondConfig()
    {
        AddColumn(new TokensPerSecondColumn());
    }

    private sealed class TokensPerSecondColumn : CustomColumn
    {
        private static readonly Dictionary<string, long> s_tokens = [];

        public TokensPerSecondColumn()
            : base("Tokens/s", $"Document tokens of the benchmark corpus (~{BenchCorpus.TargetChars / 1_000_000} MB of prose) per second of mean time", UnitType.Dimensionless)
        {
        }

        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            BenchmarkReport? report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats)
            {
                return "-";
            }
            string tokenizer = benchmarkCase.Parameters["Tokenizer"]?.ToString() ?? "wordpiece";
            long tokens = Once(s_tokens, tokenizer, name => BenchCorpus.CountTokens(BenchTokenizers.Create(name)));
            double perSecond = tokens / (stats.Mean / 1e9);
            return (perSecond / 1e6).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + " M";
        }
    }
}

/// <summary>What every custom column of these benchmarks shares: a name, a legend, a unit; derived columns compute the value.</summary>
public abstract class CustomColumn : IColumn
{
    protected CustomColumn(string name, string legend, UnitType unit)
    {
        ColumnName = name;
        Legend = legend;
        UnitType = unit;
    }

    public string Id => GetType().Name;

    public string ColumnName { get; }

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType { get; }

    public string Legend { get; }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public abstract string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    /// <summary>
    /// The count for <paramref name="key"/>, computed by <paramref name="count"/> the first time and kept in
    /// <paramref name="counts"/> (a column's own cache; columns are asked for every row of the table).
    /// </summary>
    protected static long Once<TKey>(Dictionary<TKey, long> counts, TKey key, Func<TKey, long> count)
        where TKey : notnull
    {
        lock (counts)
        {
            if (!counts.TryGetValue(key, out long value))
            {
                value = count(key);
                counts[key] = value;
            }
            return value;
        }
    }
}
