using System.Text.Json;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>
/// Our <c>GPT2LMHeadModel</c> against a reference built from stock PyTorch modules (scripts/models/gpt2_reference.py:
/// pre-norm <c>nn.TransformerEncoderLayer</c> blocks with a causal mask holding the same random weights, the Conv1D
/// ones transposed): every real token's logits within 1e-4 on padded batches, the folder's tensors all loaded.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class Gpt2ReferenceTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void CausalLm_MatchesStockPyTorch()
    {
        using var files = new TempFiles();
        string folder = files.Path("gpt2");
        PretrainedFixtures.Gpt2Reference(folder);
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "reference.json")));
        var context = new ModelContext(new VocabularyInfo("test", 256, new SpecialTokens(0, 0, 0, 0, 0)), 128, "tiny", CPU, 1, TaskSettings.Empty) { Pretrained = HuggingFaceModelFolder.Open(folder) };

        using PretrainedCausalLm model = PretrainedCausalLm.Create(context);
        Assert.Empty(model.Report.Missing);
        model.Module.eval();
        var lm = (PretrainedCausalLanguageModel)model.Module;
        double worst = 0;
        int compared = 0;
        foreach (JsonElement batch in reference.RootElement.GetProperty("batches").EnumerateArray())
        {
            long[][] ids = [.. batch.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray())];
            long[][] mask = [.. batch.GetProperty("attention_mask").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray())];
            int width = ids[0].Length;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor hidden = lm.Hidden(tensor(ids.SelectMany(r => r).ToArray(), [ids.Length, width]), tensor(mask.SelectMany(r => r).ToArray(), [ids.Length, width]), null, null);
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
                        worst = Math.Max(worst, Math.Abs(logits[(((row * width) + t) * 256) + v] - value.GetDouble()));
                        v++;
                    }
                    t++;
                    compared++;
                }
                row++;
            }
        }
        output.WriteLine($"GPT2LMHeadModel (2 layers, n_embd 64, vocab 256) against torch {reference.RootElement.GetProperty("torch").GetString()} pre-norm nn.TransformerEncoderLayer: max |logit difference| {worst:E2} over {compared} real tokens");
        Assert.True(compared > 300);
        Assert.True(worst < 1e-4, $"max logit difference {worst:E3} is not within 1e-4");
    }
}
