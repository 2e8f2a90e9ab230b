using System.Text.Json;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>
/// Our BERT, RoBERTa and DistilBERT sequence classifiers against a reference built from stock PyTorch modules
/// (scripts/models/bert_reference.py: <c>nn.TransformerEncoderLayer</c> post-norm blocks holding the same random
/// weights, saved under Hugging Face's names): logits within 1e-4 on padded batches; and the folder written back
/// (safetensors and config.json, as export-hf writes them) gives the same logits again.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class BertReferenceTests(ITestOutputHelper output)
{
    private static readonly string[] Labels = ["alpha", "beta", "gamma"];

    [SkippableTheory]
    [InlineData("bert", "BertForSequenceClassification")]
    [InlineData("roberta", "RobertaForSequenceClassification")]
    [InlineData("distilbert", "DistilBertForSequenceClassification")]
    public void SequenceClassifier_MatchesStockPyTorch_AndSurvivesExportReadByPython(string family, string architecture)
    {
        using var files = new TempFiles();
        string folder = files.Path(family);
        PretrainedFixtures.BertReference(folder, family);
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "reference.json")));

        using PretrainedClassifier model = PretrainedClassifier.Create(HuggingFaceModelFolder.Open(folder), Labels, multiLabel: false, 0.5, 64, 1000);
        Assert.False(model.NewHead);
        Assert.Empty(model.Report.Missing);
        model.Module.eval();
        double worst = Compare(model, reference.RootElement.GetProperty("batches"));
        Assert.Equal(architecture, ((PretrainedSequenceClassifier)model.Module).Architecture);
        output.WriteLine($"{architecture} (2 layers, hidden 64, 3 labels) against torch {reference.RootElement.GetProperty("torch").GetString()} nn.TransformerEncoderLayer: max |logit difference| {worst:E2} over 12 rows");
        Assert.True(worst < 1e-4, $"max logit difference {worst:E3} is not within 1e-4");

        // Written back as export-hf writes a folder, then read again: the same logits.
        string written = files.Path("written");
        model.Export(written, new Dictionary<string, string> { ["format"] = "pt" });
        using PretrainedClassifier again = PretrainedClassifier.Create(HuggingFaceModelFolder.Open(written), Labels, multiLabel: false, 0.5, 64, 1000);
        Assert.False(again.NewHead);
        again.Module.eval();
        Assert.Equal(worst, Compare(again, reference.RootElement.GetProperty("batches")));

        // Changed as fine-tuning changes it, exported, and read by Python: the reference computed from the exported
        // file (on other batches) is what our classifier computes.
        PretrainedFixtures.Perturb(again.Module);
        again.Export(written, new Dictionary<string, string> { ["format"] = "pt" });
        string python = files.Path("python");
        PretrainedFixtures.Reference("bert_reference.py", python, "--family", family, "--seed", "5", "--weights", Path.Combine(written, HuggingFaceWeights.SingleFile));
        using JsonDocument fromExport = JsonDocument.Parse(File.ReadAllText(Path.Combine(python, "reference.json")));
        double exportedWorst = Compare(again, fromExport.RootElement.GetProperty("batches"));
        output.WriteLine($"changed, exported and read by Python: max |logit difference| {exportedWorst:E2}");
        Assert.True(exportedWorst < 1e-4, $"max logit difference {exportedWorst:E3} against the reference read from the export is not within 1e-4");
    }

    private static double Compare(PretrainedClassifier model, JsonElement batches)
    {
        double worst = 0;
        foreach (JsonElement batch in batches.EnumerateArray())
        {
            long[][] ids = Rows(batch.GetProperty("input_ids"));
            long[][] mask = Rows(batch.GetProperty("attention_mask"));
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor logits = ((nn.Module<Tensor, Tensor, Tensor>)model.Module).call(tensor(ids.SelectMany(r => r).ToArray(), [ids.Length, ids[0].Length]), tensor(mask.SelectMany(r => r).ToArray(), [ids.Length, ids[0].Length]));
            float[] ours = logits.contiguous().data<float>().ToArray();
            double[] expected = [.. batch.GetProperty("logits").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.GetDouble())];
            Assert.Equal(expected.Length, ours.Length);
            for (int i = 0; i < ours.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(ours[i] - expected[i]));
            }
        }
        return worst;
    }

    private static long[][] Rows(JsonElement rows) => [.. rows.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray())];
}
