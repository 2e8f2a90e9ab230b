using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using StreamLoader.Batcher;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Transport.InProcess;

namespace StreamLoader.Benchmarks;

/// <summary>
/// The batcher stage as the console runs it, at 32 × 512 MLM batches: the documents (already in memory, so their text
/// is not counted) through the ordered tokenizer pool, the builder, the in-process transport and a consumer that
/// disposes each batch. One pass and several passes through one pipeline are measured side by side; the difference
/// over the difference in batches is what a batch costs in steady state (<c>Marginal alloc/batch</c>), without the
/// pipeline's set-up. The tokenizer's own allocation is <c>PipelineTokenizerEncode</c>'s in <see cref="TokenizationBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class BatcherStageBenchmarks
{
    private ITextTokenizer _tokenizer = null!;
    private Document[] _documents = null!;

    [Params(1, 5)]
    public int Passes { get; set; } = 1;

    [Params(1, 2)]
    public int Workers { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = BenchTokenizers.Create("wordpiece");
        _documents = BenchCorpus.Documents;
    }

    [Benchmark]
    public long Batches() => RunAsync(_tokenizer, _documents, Passes, Workers).GetAwaiter().GetResult().Batches;

    /// <summary>
    /// Runs the stage over <paramref name="passes"/> passes of the documents into MLM batches of
    /// <paramref name="batchSize"/> × <paramref name="sequenceLength"/>; returns the batches and tokens the consumer took.
    /// </summary>
    public static async Task<(long Batches, long Tokens)> RunAsync(ITextTokenizer tokenizer, Document[] documents, int passes, int workers, int sequenceLength = 512, int batchSize = 32)
    {
        var pipeline = new Pipeline();
        PipelineChannel<Document> input = pipeline.CreateChannel<Document>("documents", 512);
        (IBatchWriter writer, IBatchReader reader) = InProcessTransport.Create(8);
        var batcher = new BatcherService(new MaskedLanguageModelingTask(), new BatchingContext(tokenizer, sequenceLength, batchSize, seed: 1), workers);
        long batches = 0;
        long tokens = 0;
        pipeline.AddStage("provider", async stage =>
        {
            StageWriter<Document> output = stage.Writer(input);
            for (int pass = 0; pass < passes; pass++)
            {
                foreach (Document document in documents)
                {
                    await output.WriteAsync(document);
                }
            }
        });
        pipeline.AddStage("batcher", stage => batcher.RunAsync(stage, input, writer));
        pipeline.AddStage("sink", async stage =>
        {
            await foreach (TensorBatch batch in reader.ReadAllAsync(stage.CancellationToken))
            {
                batches++;
                tokens += batch.TokenCount;
                batch.Dispose();
            }
        });
        await pipeline.RunAsync();
        return (batches, tokens);
    }

    private sealed class Columns : ManualConfig
    {
        public Columns()
        {
            AddColumn(new MarginalColumn());
        }
    }

    /// <summary>(allocated at P passes − at 1 pass) / (batches at P − batches at 1), for the same worker count.</summary>
    private sealed class MarginalColumn : CustomColumn
    {
        private static readonly Dictionary<int, long> s_batches = [];

        public MarginalColumn()
            : base("Marginal alloc/batch", "Bytes a 32x512 batch costs in steady state: the allocation between 1 and 5 passes over the batches between them", UnitType.Size)
        {
        }

        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            int passes = (int)benchmarkCase.Parameters["Passes"];
            int workers = (int)benchmarkCase.Parameters["Workers"];
            if (passes == 1)
            {
                return "-";
            }
            BenchmarkCase? one = summary.BenchmarksCases.FirstOrDefault(c => (int)c.Parameters["Passes"] == 1 && (int)c.Parameters["Workers"] == workers);
            if (one is null || summary[benchmarkCase]?.GcStats.GetBytesAllocatedPerOperation(benchmarkCase) is not long many || summary[one]?.GcStats.GetBytesAllocatedPerOperation(one) is not long single)
            {
                return "-";
            }
            long b1 = Count(1);
            long bp = Count(passes);
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{(many - single) / (double)(bp - b1):0} B ({bp - b1} batches)");
        }

        private static long Count(int passes) =>
            Once(s_batches, passes, p => RunAsync(BenchTokenizers.Create("wordpiece"), BenchCorpus.Documents, p, 1).GetAwaiter().GetResult().Batches);
    }
}
