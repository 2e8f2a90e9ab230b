using BenchmarkDotNet.Attributes;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Classify;
using StreamLoader.Tasks.Clm;
using StreamLoader.Tasks.Infer;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Tasks.Span;

namespace StreamLoader.Benchmarks;

/// <summary>
/// Each task's batch builder alone at 32 × 512, on documents tokenized beforehand: what the batcher's one
/// coordinating thread does per batch. One builder serves the whole run, as in the batcher, so what is measured is
/// its steady state (its buffers grown in the warm-up); the token buffers are made before each iteration, outside
/// the measurement. <c>Alloc/batch</c> is <c>Allocated</c> over the batches one pass over the corpus emits.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BuilderBenchmarks.Columns))]
public class BuilderBenchmarks
{
    private static readonly string[] s_labels = ["natural-language-processing", "computer-vision", "mlops", "other"];
    private (Document Source, int[] Ids)[] _documents = null!;
    private ITextTokenizer _tokenizer = null!;
    private ITrainingTask _task = null!;
    private TokenizedDocument[] _prepared = null!;
    private readonly List<TensorBatch> _completed = new(8);
    private IBatchBuilder _builder = null!;

    [Params("mlm", "clm", "span", "classify", "multilabel", "infer")]
    public string Task { get; set; } = "mlm";

    [GlobalSetup]
    public void Setup()
    {
        _task = Task switch
        {
            "mlm" => new MaskedLanguageModelingTask(),
            "clm" => new CausalLanguageModelingTask(),
            "span" => new SpanCorruptionTask(),
            "classify" => new ClassificationTask(),
            "multilabel" => new MultiLabelClassificationTask(),
            _ => new ClassifierInferenceTask(),
        };
        // As the console does: the task's own special tokens (span's sentinels) join the vocabulary.
        _tokenizer = StreamLoader.Batcher.Tokenizers.AddedTokensTokenizer.Wrap(BenchTokenizers.Create("wordpiece"), _task.AddedSpecialTokens);
        _builder = _task.CreateBatchBuilder(new BatchingContext(_tokenizer, 512, 32, seed: 1, Task == "infer" ? TaskSettings.Parse(["compare_fixed=0"]) : null) { Labels = new LabelSet(s_labels) });
        _documents = BenchCorpus.Documents.Select((d, i) =>
        {
            using var ids = new TokenBuffer();
            _tokenizer.Encode(d.Text, ids);
            Document labelled = d with { Labels = Task == "multilabel" ? [s_labels[i % 4], s_labels[(i + 1) % 4]] : [s_labels[i % 4]] };
            return (labelled, ids.Span.ToArray());
        }).ToArray();
    }

    [IterationSetup]
    public void Prepare()
    {
        _prepared = _documents.Select(d =>
        {
            var buffer = new TokenBuffer(d.Ids.Length);
            buffer.AddRange(d.Ids);
            return new TokenizedDocument(d.Source, buffer);
        }).ToArray();
    }

    /// <summary>The whole corpus once more through the run's builder; returns the batches emitted.</summary>
    [Benchmark]
    public long Build()
    {
        long batches = 0;
        foreach (TokenizedDocument document in _prepared)
        {
            _builder.Add(document, _completed);
            document.Dispose();
            batches += Drain();
        }
        return batches;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _builder.Complete(_completed);
        Drain();
    }

    /// <summary>Batches one <see cref="Build"/> of <paramref name="task"/> emits (it is deterministic), for bytes per batch.</summary>
    public static long CountBatches(string task)
    {
        var benchmark = new BuilderBenchmarks { Task = task };
        benchmark.Setup();
        benchmark.Prepare();
        benchmark.Build();
        benchmark.Prepare();
        return benchmark.Build();
    }

    /// <summary>Tokens/s, and the builder's allocation per batch emitted.</summary>
    public sealed class Columns : BenchmarkDotNet.Configs.ManualConfig
    {
        public Columns()
        {
            AddColumn(new BytesPerBatchColumn());
        }
    }

    private sealed class BytesPerBatchColumn : CustomColumn
    {
        private static readonly Dictionary<string, long> s_batches = [];

        public BytesPerBatchColumn()
            : base("Alloc/batch", "Bytes the builder allocated per 32x512 batch it emitted", BenchmarkDotNet.Columns.UnitType.Size)
        {
        }

        public override string GetValue(BenchmarkDotNet.Reports.Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase, BenchmarkDotNet.Reports.SummaryStyle style)
        {
            if (summary[benchmarkCase] is not { } report || report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase) is not long bytes)
            {
                return "-";
            }
            string task = benchmarkCase.Parameters["Task"]?.ToString() ?? "mlm";
            long batches = Once(s_batches, task, CountBatches);
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (double)Math.Max(1, batches):0} B ({batches} batches)");
        }
    }

    private long Drain()
    {
        long n = _completed.Count;
        foreach (TensorBatch batch in _completed)
        {
            batch.Dispose();
        }
        _completed.Clear();
        return n;
    }
}
