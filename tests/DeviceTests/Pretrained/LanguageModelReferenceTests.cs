using System.Text.Json;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Training;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>
/// Our language models against references written outside StreamLoader, on random weights saved under Hugging Face's
/// names: <c>BertForMaskedLM</c> against post-norm <c>nn.TransformerEncoderLayer</c> blocks and a head of torch
/// operations (scripts/models/bert_reference.py --mlm),
/// <c>GPT2LMHeadModel</c> against pre-norm <c>nn.TransformerEncoderLayer</c> blocks with a causal mask
/// (scripts/models/gpt2_reference.py), and <c>LlamaForCausalLM</c> (grouped-query attention, rope_theta 500000, Llama
/// 3's rope_scaling, tied and untied heads) against a forward written from torch operations
/// (scripts/models/llama_reference.py). Every real token's logits within 1e-4 on padded batches; every tensor loaded;
/// exported (export-hf's folder) and read again, the same logits.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class LanguageModelReferenceTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("bert_reference.py", "BertForMaskedLM (2 layers, hidden 64, tied decoder)", "--mlm")]
    [InlineData("gpt2_reference.py", "GPT2LMHeadModel (2 layers, n_embd 64)")]
    [InlineData("llama_reference.py", "LlamaForCausalLM (2 layers, 4 heads over 2 key/value heads, rope_theta 500000, llama3 rope_scaling, untied head)")]
    [InlineData("llama_reference.py", "LlamaForCausalLM (2 layers, 4 heads over 2 key/value heads, rope_theta 500000, no scaling, tied head)", "--tied", "--no-scaling")]
    public void LanguageModel_MatchesTheReference(string script, string what, params string[] arguments)
    {
        using var files = new TempFiles();
        string folder = files.Path("model");
        PretrainedFixtures.Reference(script, folder, arguments);
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "reference.json")));
        HuggingFaceModelFolder pretrained = HuggingFaceModelFolder.Open(folder);
        int vocabulary = pretrained.Family.VocabularySize(pretrained.Config);
        var context = new ModelContext(new VocabularyInfo("test", vocabulary, new SpecialTokens(0, 0, 0, 0, 0)), 64, "tiny", CPU, 1, TaskSettings.Empty) { Pretrained = pretrained };

        bool masked = pretrained.Config.Architecture.EndsWith("ForMaskedLM", StringComparison.Ordinal);
        using PretrainedLm model = PretrainedLm.Create(context, masked);
        Assert.Empty(model.Report.Missing);
        Assert.Empty(model.Report.Unused);
        (double worst, int compared) = Compare(model, reference.RootElement.GetProperty("batches"), vocabulary);
        output.WriteLine($"{what}, vocabulary {vocabulary}, against torch {reference.RootElement.GetProperty("torch").GetString()}: max |logit difference| {worst:E2} over {compared} real tokens");
        Assert.True(compared > 200);
        Assert.True(worst < 1e-4, $"max logit difference {worst:E3} is not within 1e-4");

        // Exported as export-hf writes a folder, then read again: every tensor, and the same logits.
        string written = files.Path("written");
        model.Export(written, new Dictionary<string, string> { ["format"] = "pt" });
        HuggingFaceModelFolder exported = HuggingFaceModelFolder.Open(written);
        Assert.Equal(pretrained.Config.Architecture, exported.Config.Architecture);
        using PretrainedLm again = PretrainedLm.Create(context with { Pretrained = exported }, masked);
        Assert.Empty(again.Report.Missing);
        Assert.Empty(again.Report.Unused);
        Assert.Equal((worst, compared), Compare(again, reference.RootElement.GetProperty("batches"), vocabulary));

        // Changed as training changes it, exported, and read by Python: the reference computed from the exported file
        // (on other batches) is what our model computes, so what a run trains is what a Python user loads.
        PretrainedFixtures.Perturb(again.Module);
        again.Export(written, new Dictionary<string, string> { ["format"] = "pt" });
        string python = files.Path("python");
        PretrainedFixtures.Reference(script, python, [.. arguments, "--seed", "5", "--weights", Path.Combine(written, HuggingFaceWeights.SingleFile)]);
        using JsonDocument fromExport = JsonDocument.Parse(File.ReadAllText(Path.Combine(python, "reference.json")));
        (double exportedWorst, int exportedCompared) = Compare(again, fromExport.RootElement.GetProperty("batches"), vocabulary);
        output.WriteLine($"changed, exported and read by Python: max |logit difference| {exportedWorst:E2} over {exportedCompared} real tokens");
        Assert.True(exportedWorst < 1e-4, $"max logit difference {exportedWorst:E3} against the reference read from the export is not within 1e-4");
    }

    private static (double Worst, int Compared) Compare(PretrainedLm model, JsonElement batches, int vocabulary)
    {
        model.Module.eval();
        var lm = (PretrainedLanguageModel)model.Module;
        double worst = 0;
        int compared = 0;
        foreach (JsonElement batch in batches.EnumerateArray())
        {
            long[][] ids = Rows(batch.GetProperty("input_ids"));
            long[][] mask = Rows(batch.GetProperty("attention_mask"));
            int width = ids[0].Length;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor? positions = batch.TryGetProperty("position_ids", out JsonElement p) ? tensor(Rows(p).SelectMany(r => r).ToArray(), [ids.Length, width]) : null;
            Tensor hidden = lm.Hidden(tensor(ids.SelectMany(r => r).ToArray(), [ids.Length, width]), tensor(mask.SelectMany(r => r).ToArray(), [ids.Length, width]), positions, null);
            float[] logits = lm.Logits(hidden.reshape(-1, hidden.shape[2])).contiguous().data<float>().ToArray();
            int row = 0;
            foreach (JsonElement expectedRow in batch.GetProperty("logits").EnumerateArray())
            {
                int t = 0;
                foreach (JsonElement position in expectedRow.EnumerateArray())
                {
                    int v = 0;
                    foreach (JsonElement value in position.EnumerateArray())
                    {
                        worst = Math.Max(worst, Math.Abs(logits[(((row * width) + t) * vocabulary) + v] - value.GetDouble()));
                        v++;
                    }
                    t++;
                    compared++;
                }
                row++;
            }
        }
        return (worst, compared);
    }

    private static long[][] Rows(JsonElement rows) => [.. rows.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray())];
}
