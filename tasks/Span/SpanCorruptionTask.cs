using System.Globalization;
using StreamLoader.Core.Randomness;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Common;

namespace StreamLoader.Tasks.Span;

/// <summary>
/// T5-style span corruption: documents packed with EOS between them, cut into raw rows sized so the corrupted input
/// fills <c>--seq-len</c> exactly (568 raw tokens → 512 input and 114 target tokens with the defaults).
/// </summary>
/// <remarks>
/// Batches carry int64 <c>input_ids</c> and <c>attention_mask</c> <c>[batch, seq]</c>, and <c>decoder_input_ids</c> and
/// <c>labels</c> <c>[batch, target]</c> (labels: the target, -100 on padding; decoder input: the target shifted right
/// behind [PAD], T5's start token).
/// </remarks>
public sealed class SpanCorruptionTask : ITrainingTask
{
    /// <summary>The task's command-line name.</summary>
    public const string TaskName = "span";

    /// <summary>Sentinel tokens declared, as T5's vocabulary has them.</summary>
    public const int SentinelCount = 100;

    public string Name => TaskName;

    public string Description => "T5 span corruption: replace random spans (15% of tokens, mean length 3) with sentinels; predict the spans.";

    public TaskMode Mode => TaskMode.Train;

    /// <summary>The <c>noise_density</c> setting.</summary>
    public static readonly TaskOption<double> NoiseDensity = TaskOption.Number("noise_density", 0.15, 0.01, 0.5, "Share of the tokens corrupted.", "--noise-density");

    /// <summary>The <c>mean_span_length</c> setting.</summary>
    public static readonly TaskOption<double> MeanSpanLength = TaskOption.Number("mean_span_length", 3, 1, 100, "Mean length of a corrupted span, in tokens.", "--mean-span-length");

    public IReadOnlyList<TaskOption> Options { get; } = [NoiseDensity, MeanSpanLength];

    public IReadOnlyList<string> AddedSpecialTokens { get; } = Enumerable.Range(0, SentinelCount).Select(i => $"<extra_id_{i}>").ToArray();

    /// <summary>The corruption the settings describe.</summary>
    public static SpanCorruption Corruption(TaskSettings settings) =>
        new(NoiseDensity.Read(settings), MeanSpanLength.Read(settings));

    public IReadOnlyList<TensorSpec> DescribeBatch(BatchingContext context)
    {
        int target = Corruption(context.Settings).Lengths(context.SequenceLength).Target;
        int[] input = [context.BatchSize, context.SequenceLength];
        int[] output = [context.BatchSize, target];
        return
        [
            new(TaskTensors.InputIds, TensorDType.I64, input),
            new(TaskTensors.AttentionMask, TensorDType.I64, input),
            new(TaskTensors.DecoderInputIds, TensorDType.I64, output),
            new(TaskTensors.Labels, TensorDType.I64, output),
        ];
    }

    public IBatchBuilder CreateBatchBuilder(BatchingContext context)
    {
        SpecialTokens special = context.Tokenizer.Special;
        TaskTokens.Require("span", context.Tokenizer, ("an end-of-sequence token (eos_token, </s>, [SEP])", special.Sep), ("a padding token (the decoder's start)", special.Pad));
        SpanCorruption corruption = Corruption(context.Settings);
        (int raw, int target) = corruption.Lengths(context.SequenceLength);
        int needed = corruption.Spans(corruption.NoiseTokens(raw));
        if (special.Sentinels.Count < needed)
        {
            throw new InvalidOperationException($"span: a row of {raw} raw tokens needs {needed} sentinel tokens; the tokenizer {context.Tokenizer.Name} has {special.Sentinels.Count}. Lower --seq-len or raise --mean-span-length.");
        }
        return new SpanBatchBuilder(context, corruption, raw, target);
    }

    public void Render(TensorBatch batch, ITextTokenizer tokenizer, TextWriter output, int maxRows)
    {
        BatchText.RenderInputRows(batch, tokenizer, output, maxRows);
        if (!batch.TryGet(TaskTensors.Labels, out TensorBuffer labels))
        {
            return;
        }
        int columns = labels.Shape[1];
        for (int r = 0; r < Math.Min(labels.Shape[0], maxRows); r++)
        {
            var ids = new List<int>();
            foreach (long id in labels.AsSpan<long>().Slice(r * columns, columns))
            {
                if (id != TaskTensors.IgnoreIndex)
                {
                    ids.Add((int)id);
                }
            }
            output.WriteLine($"  [{r}] target ({ids.Count} tokens) {BatchText.Escape(tokenizer.Decode(ids.ToArray()))}");
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  noise tokens: {batch.Metadata.GetValueOrDefault("noise_tokens", "?")}, spans: {batch.Metadata.GetValueOrDefault("noise_spans", "?")}, raw tokens: {batch.Metadata.GetValueOrDefault("raw_tokens", "?")}"));
    }
}

/// <summary>Cuts raw rows from the packed stream and corrupts each with a random stream from the seed, the batch and the row.</summary>
internal sealed class SpanBatchBuilder : IBatchBuilder
{
    private readonly BatchingContext _context;
    private readonly SpanCorruption _corruption;
    private readonly int _raw;
    private readonly int _target;
    private readonly RowBatchWriter _rows;
    private readonly TokenPacker _packer;
    private readonly int[] _rawIds;
    private readonly int[] _input;
    private readonly int[] _output;
    private readonly int[] _sentinels;
    private long _noise;
    private long _spans;
    private long _rawTokens;

    public SpanBatchBuilder(BatchingContext context, SpanCorruption corruption, int raw, int target)
    {
        _context = context;
        _corruption = corruption;
        _raw = raw;
        _target = target;
        SpecialTokens special = context.Tokenizer.Special;
        _rows = new RowBatchWriter(SpanCorruptionTask.TaskName, context.BatchSize, context.SequenceLength, special.Pad, context.FirstBatchSequence);
        _packer = new TokenPacker(special.Sep);
        _rawIds = new int[raw];
        _input = new int[context.SequenceLength];
        _output = new int[target];
        _sentinels = special.Sentinels.ToArray();
    }

    public void Add(TokenizedDocument document, List<TensorBatch> completed)
    {
        _packer.Add(document);
        while (_packer.Pending >= _raw)
        {
            TakeRow(_raw, completed);
        }
    }

    public void Complete(List<TensorBatch> completed)
    {
        if (_packer.Pending > 0)
        {
            TakeRow(_packer.Pending, completed);
        }
        if (_rows.Rows > 0)
        {
            completed.Add(Finish());
        }
    }

    private void TakeRow(int length, List<TensorBatch> completed)
    {
        ReadOnlySpan<PackedToken> tokens = _packer.Tokens[..length];
        for (int i = 0; i < length; i++)
        {
            _rawIds[i] = tokens[i].Id;
        }
        int row = _rows.Rows;
        // One stream per row, from the seed and where the row starts (document and token): a resumed run corrupts its rows alike.
        var random = new Xoshiro256((ulong)Seeds.Derive(_context.Seed, tokens[0].Ordinal, (tokens[0].Offset << 8) ^ 0x5350414E));
        (int input, int target, int spans, int noise) = _corruption.Apply(_rawIds.AsSpan(0, length), _sentinels, _context.Tokenizer.Special.Sep, _input, _output, ref random);
        _rows.AppendRow(_input.AsSpan(0, input));
        Span<long> decoderRow = _rows.TargetRow(TaskTensors.DecoderInputIds, TensorDType.I64, row, _target, (long)_context.Tokenizer.Special.Pad);
        Span<long> labelRow = _rows.TargetRow(TaskTensors.Labels, TensorDType.I64, row, _target, TaskTensors.IgnoreIndex);
        for (int i = 0; i < target; i++)
        {
            labelRow[i] = _output[i];
            if (i + 1 < _target)
            {
                decoderRow[i + 1] = _output[i];
            }
        }
        _noise += noise;
        _spans += spans;
        _rawTokens += length;
        _rows.Consumed(_packer, length);
        if (_rows.IsFull)
        {
            completed.Add(Finish());
        }
    }

    private TensorBatch Finish()
    {
        TensorBatch batch = _rows.Take();
        batch.Metadata["noise_tokens"] = _noise.ToString(CultureInfo.InvariantCulture);
        batch.Metadata["noise_spans"] = _spans.ToString(CultureInfo.InvariantCulture);
        batch.Metadata["raw_tokens"] = _rawTokens.ToString(CultureInfo.InvariantCulture);
        (_noise, _spans, _rawTokens) = (0, 0, 0);
        return batch;
    }
}
