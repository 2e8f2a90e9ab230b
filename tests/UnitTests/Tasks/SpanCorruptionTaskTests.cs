using StreamLoader.Core.Randomness;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Tasks.Span;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Tasks;

public sealed class SpanCorruptionTaskTests : TaskContractTests
{
    protected override ITrainingTask CreateTask() => new SpanCorruptionTask();

    [Theory]
    [InlineData(512, 0.15, 3.0, 568, 114)]
    [InlineData(128, 0.15, 3.0, 141, 29)]
    public void Lengths_FillTheInputExactly_AsT5ComputesThem(int input, double density, double mean, int raw, int target)
    {
        var corruption = new SpanCorruption(density, mean);
        Assert.Equal((raw, target), corruption.Lengths(input));
        // A full row fills both exactly.
        var random = new Xoshiro256(1);
        int[] tokens = Enumerable.Range(1000, raw).ToArray();
        var inputIds = new int[input];
        var targetIds = new int[target];
        (int inputLength, int targetLength, _, _) = corruption.Apply(tokens, Enumerable.Range(0, 100).ToArray(), 3, inputIds, targetIds, ref random);
        Assert.Equal(input, inputLength);
        Assert.Equal(target, targetLength);
    }

    [Fact]
    public void Corruption_OverManyRows_NoiseDensityAndMeanSpanLengthMatchTheOptions()
    {
        var corruption = new SpanCorruption(0.15, 3);
        (int raw, int target) = corruption.Lengths(512);
        var random = new Xoshiro256(7);
        long noise = 0, spans = 0, total = 0, spanTokens = 0, spanCount = 0;
        int[] sentinels = Enumerable.Range(0, 100).ToArray();
        var input = new int[512];
        var output = new int[target];
        for (int row = 0; row < 2000; row++)
        {
            int length = row % 10 == 0 ? 50 + (row % 400) : raw;
            int[] tokens = Enumerable.Range(1000, length).ToArray();
            (int inputLength, int targetLength, int s, int n) = corruption.Apply(tokens, sentinels, 3, input, output, ref random);
            noise += n;
            spans += s;
            total += length;
            // Measure the spans from the target itself: runs of tokens between sentinels.
            int run = 0;
            for (int i = 0; i < targetLength - 1; i++)
            {
                if (output[i] < 100)
                {
                    if (i > 0)
                    {
                        spanTokens += run;
                        spanCount++;
                    }
                    run = 0;
                }
                else
                {
                    run++;
                }
            }
            spanTokens += run;
            spanCount++;
            Assert.Equal(length, SpanCorruption.Reconstruct(input.AsSpan(0, inputLength - 1), output.AsSpan(0, targetLength - 1), sentinels).Count);
        }
        double density = noise / (double)total;
        double mean = spanTokens / (double)spanCount;
        Assert.InRange(density, 0.14, 0.16);
        Assert.InRange(mean, 2.7, 3.3);
        Assert.Equal(noise, spanTokens);
        Assert.Equal(spans, spanCount);
    }

    [Fact]
    public void Rows_InputAndTargetReconstructThePackedDocumentsExactly()
    {
        string[] texts = Corpus(60).ToArray();
        List<TensorBatch> batches = BuildBatches(texts);
        try
        {
            IReadOnlyList<int> sentinels = Tokenizer.Special.Sentinels;
            int eos = Tokenizer.Special.Sep;
            var stream = new List<int>();
            foreach (TensorBatch batch in batches)
            {
                int inputWidth = batch[TaskTensors.InputIds].Shape[1];
                int targetWidth = batch[TaskTensors.Labels].Shape[1];
                long[] inputs = batch[TaskTensors.InputIds].AsSpan<long>().ToArray();
                long[] mask = batch[TaskTensors.AttentionMask].AsSpan<long>().ToArray();
                long[] labels = batch[TaskTensors.Labels].AsSpan<long>().ToArray();
                long[] decoder = batch[TaskTensors.DecoderInputIds].AsSpan<long>().ToArray();
                for (int r = 0; r < batch.RowCount; r++)
                {
                    int[] input = inputs.Skip(r * inputWidth).Take(inputWidth).Where((_, c) => mask[(r * inputWidth) + c] == 1).Select(v => (int)v).ToArray();
                    int[] target = labels.Skip(r * targetWidth).Take(targetWidth).Where(v => v != TaskTensors.IgnoreIndex).Select(v => (int)v).ToArray();
                    Assert.Equal(eos, input[^1]);
                    Assert.Equal(eos, target[^1]);
                    Assert.Contains(target[0], sentinels);
                    // The decoder sees the target shifted right behind [PAD].
                    Assert.Equal(Tokenizer.Special.Pad, decoder[r * targetWidth]);
                    Assert.Equal(target[..^1].Select(v => (long)v), decoder.Skip((r * targetWidth) + 1).Take(target.Length - 1));
                    stream.AddRange(SpanCorruption.Reconstruct(input.AsSpan(0, input.Length - 1), target.AsSpan(0, target.Length - 1), sentinels));
                }
            }
            var expected = new List<int>();
            foreach (string text in texts)
            {
                var ids = new TokenBuffer();
                Tokenizer.Encode(text, ids);
                expected.AddRange(ids.Span.ToArray());
                expected.Add(eos);
            }
            Assert.Equal(expected, stream);
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public void Sentinels_AreAddedAfterTheVocabulary_WhenTheTokenizerLacksThem()
    {
        Assert.Equal(100, Tokenizer.Special.Sentinels.Count);
        Assert.Equal(500, Tokenizer.Special.Sentinels[0]);
        Assert.Equal(600, Tokenizer.VocabularySize);
        Assert.Equal("<extra_id_0>", Tokenizer.IdToToken(500));
        Assert.True(Tokenizer.Special.IsSpecial(599));
    }
}
