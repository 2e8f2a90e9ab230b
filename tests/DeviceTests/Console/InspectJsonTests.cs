using System.Text.Json;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The JSON a script reads from <c>inspect</c>, <c>scan</c> and <c>tasks</c> (<c>--output-format json</c>): it parses, and
/// what inspect says of each row agrees with the tensors of the same batches written by a loader with the same settings.
/// </summary>
public sealed class InspectJsonTests
{
    [Theory]
    [MemberData(nameof(EveryTrainingTask), MemberType = typeof(CliFixtures))]
    public async Task Inspect_Json_AgreesWithTheBatchesTensors(string task)
    {
        using var files = new TempFiles();
        // Single-label documents are a or b; multi-label ones a, b or both.
        string docs = LabelledJsonl(files, task, 40, i => 20 + (i % 7) * 5);
        string vocab = Vocab(files, "vocab.txt");
        string[] labelled = LabelArgs(task);
        string[] common = ["--task", task, "--source", docs, "--vocab", vocab, "--seq-len", "24", "--batch-size", "4", "--shuffle-buffer", "0", "--seed", "2", .. labelled];

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, ["inspect", .. common, "--batches", "3", "--rows", "4", "--output-format", "json"]);
        Assert.True(exit == 0, stderr);
        (int loader, _, string loaderErr) = await CliProcess.RunAsync(files.Folder, Limit, ["--role", "loader", .. common, "--max-steps", "3", "--out", "b.frames", "--progress", "none"]);
        Assert.True(loader == 0, loaderErr);

        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        await using StreamBatchReader frames = FrameFileTransportKind.Open(files.Path("b.frames"));
        string[] tokens = File.ReadAllLines(vocab);
        // Ids past the vocabulary are the span task's sentinels, numbered from its end.
        string Token(long id) => id < tokens.Length ? tokens[id] : $"<extra_id_{id - tokens.Length}>";
        int index = 0;
        int masks = 0;
        int targetCount = 0;
        await foreach (TensorBatch batch in frames.ReadAllAsync())
        {
            using (batch)
            {
                using JsonDocument shown = JsonDocument.Parse(lines[index++]);
                JsonElement root = shown.RootElement;
                Assert.Equal(batch.Sequence, root.GetProperty("sequence").GetInt64());
                Assert.Equal(task, root.GetProperty("task").GetString());
                Assert.Equal(batch.Tensors.Select(t => $"{t.Name}[{string.Join('x', t.Shape)}]"),
                    root.GetProperty("tensors").EnumerateArray().Select(t => $"{t.GetProperty("name").GetString()}[{string.Join('x', t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()))}]"));
                TensorBuffer ids = batch[TaskTensors.InputIds];
                int columns = ids.Shape[1];
                foreach (JsonElement row in root.GetProperty("row_details").EnumerateArray())
                {
                    int r = row.GetProperty("row").GetInt32();
                    long[] shownIds = row.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    long[] tensorIds = ids.AsSpan<long>().Slice(r * columns, columns).ToArray().TakeWhile(id => id != 0).ToArray();
                    Assert.Equal(tensorIds, shownIds);
                    // The text is the ids decoded: the vocabulary's pieces joined (## pieces to the word before them).
                    Assert.Equal(string.Concat(tensorIds.Select(id => Token(id).Replace("##", string.Empty, StringComparison.Ordinal))),
                        row.GetProperty("text").GetString()!.Replace(" ", string.Empty, StringComparison.Ordinal));
                    if (task is "classify" or "multilabel")
                    {
                        string[] names = row.GetProperty("labels").EnumerateArray().Select(e => e.GetString()!).ToArray();
                        string[] expected = task == "classify"
                            ? [new[] { "a", "b" }[(int)batch[TaskTensors.Labels].AsSpan<long>()[r]]]
                            : new[] { "a", "b" }.Where((_, k) => batch[TaskTensors.Labels].AsSpan<float>()[(r * 2) + k] > 0.5f).ToArray();
                        Assert.Equal(expected, names);
                        continue;
                    }
                    // Every position with a target, and only those, with the target id the tensor holds.
                    TensorBuffer labels = batch[TaskTensors.Labels];
                    int width = labels.Shape[1];
                    long[] row_labels = labels.AsSpan<long>().Slice(r * width, width).ToArray();
                    var expectedTargets = row_labels.Select((id, c) => (c, id)).Where(p => p.id != TaskTensors.IgnoreIndex).ToArray();
                    var shownTargets = row.GetProperty("targets").EnumerateArray().Select(t => (t.GetProperty("position").GetInt32(), t.GetProperty("id").GetInt64())).ToArray();
                    Assert.Equal(expectedTargets, shownTargets);
                    targetCount += shownTargets.Length;
                    // Each target names its token, and the token the input holds there, as the vocabulary spells the ids.
                    foreach (JsonElement target in row.GetProperty("targets").EnumerateArray())
                    {
                        Assert.Equal(Token(target.GetProperty("id").GetInt64()), target.GetProperty("token").GetString());
                        if (task != "span")
                        {
                            Assert.Equal(Token(tensorIds[target.GetProperty("position").GetInt32()]), target.GetProperty("input_token").GetString());
                        }
                        masks += target.TryGetProperty("input_token", out JsonElement input) && input.GetString() == "[MASK]" ? 1 : 0;
                    }
                }
            }
        }
        Assert.Equal(3, index);
        Assert.True(task is "classify" or "multilabel" || targetCount > 0, "no row shows a target");
        if (task == "mlm")
        {
            Assert.True(masks > 0, "no masked position shows [MASK] in the input");
        }
    }

    [Fact]
    public async Task ScanAndTasks_Json_Parse()
    {
        using var files = new TempFiles();
        string docs = Jsonl(files, "docs.jsonl", 12);
        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(files.Folder, Limit, "scan", "--source", docs, "--output-format", "json");
        Assert.True(exit == 0, stderr);
        using JsonDocument scan = JsonDocument.Parse(stdout);
        Assert.Equal(12, scan.RootElement.GetProperty("documents").GetInt64());
        Assert.Equal("streamloader.scan-summary/1", scan.RootElement.GetProperty("schema").GetString());

        (exit, stdout, stderr) = await CliProcess.RunAsync(files.Folder, Limit, "tasks", "--output-format", "json");
        Assert.True(exit == 0, stderr);
        using JsonDocument tasks = JsonDocument.Parse(stdout);
        JsonElement clm = tasks.RootElement.GetProperty("tasks").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "clm");
        JsonElement pack = clm.GetProperty("settings").EnumerateArray().Single(s => s.GetProperty("key").GetString() == "pack");
        Assert.Equal("--pack", pack.GetProperty("flag").GetString());
        Assert.Equal("true", pack.GetProperty("default").GetString());
        Assert.Equal("boolean", pack.GetProperty("type").GetString());

        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, Limit, "tasks", "--output-format", "yaml");
        Assert.Equal(2, exit);
        Assert.Contains("--output-format yaml: expected human or json", stderr, StringComparison.Ordinal);
    }
}
