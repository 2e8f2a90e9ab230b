using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models.Bert;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>
/// A real pretrained BERT, all-MiniLM-L6-v2, read from a Hugging Face folder into our TorchSharp <see cref="BertModel"/>,
/// against ONNX Runtime running the original ONNX export on the same ids: the last hidden state must agree within
/// 1e-4 (max absolute difference at every real token) on 100 documents of every shared corpus, in padded batches of
/// 16; the padding positions' states are reported beside it.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class MiniLmReferenceTests(ITestOutputHelper output)
{
    private const int Documents = 100;
    private const int MaxTokens = 128;
    private const int BatchRows = 16;

    /// <summary>The corpora of short documents (the fast set).</summary>
    public static TheoryData<string> ShortCorpora => ["jargon", "made-with-ml", "goemotions"];

    /// <summary>The corpora of long documents, every batch at <see cref="MaxTokens"/> (the end-to-end set: about 25 s each here).</summary>
    public static TheoryData<string> LongCorpora => ["python-docs", "wikipedia"];

    [SkippableTheory]
    [MemberData(nameof(ShortCorpora))]
    public Task LastHiddenState_MatchesOnnxRuntime(string corpus) => CompareAsync(corpus);

    [Trait("Category", "EndToEnd")]
    [SkippableTheory]
    [MemberData(nameof(LongCorpora))]
    public Task LastHiddenState_LongDocuments_MatchesOnnxRuntime(string corpus) => CompareAsync(corpus);

    private async Task CompareAsync(string corpus)
    {
        string folder = PretrainedFixtures.MiniLmFolder();
        string onnx = PretrainedFixtures.MiniLmOnnx();
        Document[] documents = await ReadAsync(corpus);
        ITextTokenizer tokenizer = TokenizerFactory.CreateWordPiece(Path.Combine(folder, "vocab.txt"));

        HuggingFaceModelFolder model = HuggingFaceModelFolder.Open(folder);
        using var bert = new BertModel(BertConfig.From(model.Config), withPooler: true, model.Config.Path);
        using (HuggingFaceWeights weights = model.OpenWeights())
        {
            WeightLoadReport report = WeightLoading.Load(bert, weights, folder, BertFamily.Alternatives);
            Assert.Empty(report.Missing);
            Assert.Empty(report.Unused);
        }
        bert.eval();
        using var session = new InferenceSession(onnx);

        double maxDifference = 0, maxReal = 0, largest = 0, cosineSum = 0;
        int rows = 0;
        long positions = 0;
        foreach (Document[] chunk in documents.Chunk(BatchRows))
        {
            long[][] ids = [.. chunk.Select(d => Encode(tokenizer, d.Text))];
            int width = ids.Max(r => r.Length);
            long[] flatIds = new long[chunk.Length * width];
            long[] mask = new long[chunk.Length * width];
            for (int r = 0; r < ids.Length; r++)
            {
                ids[r].CopyTo(flatIds, r * width);
                mask.AsSpan(r * width, ids[r].Length).Fill(1);
            }

            float[] ours;
            using (NewDisposeScope())
            using (no_grad())
            {
                torch.Tensor hidden = bert.Encode(tensor(flatIds, [chunk.Length, width]), tensor(mask, [chunk.Length, width]), null);
                ours = hidden.contiguous().data<float>().ToArray();
            }

            int[] shape = [chunk.Length, width];
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(
            [
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(flatIds, shape)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[flatIds.Length], shape)),
            ]);
            float[] reference = [.. results.First(v => v.Name == "last_hidden_state").AsEnumerable<float>()];

            Assert.Equal(reference.Length, ours.Length);
            int hiddenSize = ours.Length / flatIds.Length;
            for (int i = 0; i < ours.Length; i++)
            {
                double difference = Math.Abs(ours[i] - reference[i]);
                maxDifference = Math.Max(maxDifference, difference);
                if (mask[i / hiddenSize] == 1)
                {
                    maxReal = Math.Max(maxReal, difference);
                }
                largest = Math.Max(largest, Math.Abs(reference[i]));
            }
            positions += flatIds.Length;
            for (int r = 0; r < chunk.Length; r++)
            {
                cosineSum += Cosine(MeanPool(ours, r, width, hiddenSize, ids[r].Length), MeanPool(reference, r, width, hiddenSize, ids[r].Length));
                rows++;
            }
        }

        output.WriteLine($"all-MiniLM-L6-v2 on {corpus}: {rows} documents, {positions:N0} positions (padded batches of {BatchRows}, up to {MaxTokens} tokens): max |ours - ONNX Runtime| = {maxDifference:E2} ({maxReal:E2} at real tokens; values up to {largest:0.0}), mean cosine of the mean-pooled embeddings = {cosineSum / rows:0.0000000}");
        Assert.Equal(Documents, rows);
        // Every real token's state, in padded batches, within 1e-4 (measured: 3e-6 to 5e-6). The padding positions' own
        // states, which no head reads (CLS and mean pooling leave them out), differ by up to 1.1e-4 of values up to 6:
        // float rounding in a different order, bounded here at 5e-4.
        Assert.True(maxReal < 1e-4, $"max abs difference {maxReal:E3} at real tokens on {corpus} is not within 1e-4");
        Assert.True(maxDifference < 5e-4, $"max abs difference {maxDifference:E3} at padding positions on {corpus} is not within 5e-4");
    }

    /// <summary>[CLS] text [SEP], cut to <see cref="MaxTokens"/>, as sentence-transformers feeds the model.</summary>
    private static long[] Encode(ITextTokenizer tokenizer, string text)
    {
        using var buffer = new TokenBuffer();
        tokenizer.Encode(text, buffer);
        int body = Math.Min(buffer.Count, MaxTokens - 2);
        var ids = new long[body + 2];
        ids[0] = tokenizer.Special.Cls;
        for (int i = 0; i < body; i++)
        {
            ids[i + 1] = buffer.Span[i];
        }
        ids[^1] = tokenizer.Special.Sep;
        return ids;
    }

    private static double[] MeanPool(float[] hidden, int row, int width, int size, int length)
    {
        var pooled = new double[size];
        for (int t = 0; t < length; t++)
        {
            for (int h = 0; h < size; h++)
            {
                pooled[h] += hidden[(((row * width) + t) * size) + h] / (double)length;
            }
        }
        return pooled;
    }

    private static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private static async Task<Document[]> ReadAsync(string corpus)
    {
        (string file, SourceSettings settings) = corpus switch
        {
            "python-docs" => (SharedData.PythonDocs, new SourceSettings()),
            "wikipedia" => (SharedData.CirrusSample, new SourceSettings()),
            "jargon" => ("text/jargon-4.4.7.txt.gz", new SourceSettings { Format = "text", FormatOptions = new Dictionary<string, string> { ["split-on"] = "paragraph" } }),
            "made-with-ml" => ("labelled/made-with-ml/dataset.csv", new SourceSettings { Columns = new SourceColumns { Text = ["title", "description"], Label = null } }),
            "goemotions" => ("labelled/goemotions/dev.tsv", new SourceSettings { FormatOptions = new Dictionary<string, string> { ["columns"] = "text,labels,id" }, Columns = new SourceColumns { Label = null } }),
            _ => throw new ArgumentOutOfRangeException(nameof(corpus), corpus, null),
        };
        IDocumentSource source = SourceFactory.Create(SharedData.Require(file), settings);
        var documents = new List<Document>(Documents);
        await foreach (Document document in source.ReadAsync())
        {
            documents.Add(document);
            if (documents.Count == Documents)
            {
                break;
            }
        }
        return [.. documents];
    }
}
