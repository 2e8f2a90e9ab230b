using System.Diagnostics;
using System.Text.Json;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Results;
using StreamLoader.Results.Formats;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.Streams;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// <c>streamloader infer</c> as a user runs it: a classifier trained on Made-With-ML labels corpora with one row per
/// input document in input order; <c>--filter-by</c>; runs killed with SIGKILL at random points and relaunched; three
/// ranks, one killed and relaunched, merged. Every run is a separate process, bounded in time.
/// </summary>
public sealed class InferenceTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(180);
    private static string Csv => SharedData.Require("labelled/made-with-ml/dataset.csv");

    private static string Vocab => SharedData.Require(SharedData.BertVocab);

    private static async Task<string> InferAsync(string folder, params string[] args)
    {
        (int exit, _, string stderr) = await CliProcess.RunAsync(folder, s_limit, ["infer", "--checkpoint", await CliFixtures.ClassifierAsync(), "--progress", "none", .. args]);
        Assert.True(exit == 0, $"infer {string.Join(' ', args)} exited {exit}\n{stderr}");
        return stderr;
    }

    private static List<JsonElement> Rows(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [SkippableFact]
    public async Task Infer_MadeWithMl_OneRowPerInputRowInInputOrder_IdsAndColumnsKept_InEveryFormat()
    {
        using var files = new TempFiles();
        string stderr = await InferAsync(files.Folder, "--source", Csv, "--output", "preds.jsonl", "--keep-columns", "title,tag", "--summary-json", "summary.json");
        List<StreamLoader.Core.Documents.Document> input = await Collect.DocumentsAsync(SourceFactory.Create(Csv, new SourceSettings { Columns = new SourceColumns { Text = ["title", "description"], Keep = ["title", "tag"] } }));

        List<JsonElement> rows = Rows(files.Path("preds.jsonl"));
        Assert.Equal(input.Count, rows.Count);
        Assert.Equal(input.Select(d => d.Id), rows.Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(input.Select(d => d.Metadata!["title"]), rows.Select(r => r.GetProperty("title").GetString()));
        Assert.Equal(Enumerable.Range(0, input.Count).Select(i => (long)i), rows.Select(r => r.GetProperty("source_ordinal").GetInt64()));
        string[] labels = ["computer-vision", "mlops", "natural-language-processing", "other"];
        Assert.All(rows, r => Assert.Contains(r.GetProperty("label").GetString(), labels));
        Assert.All(rows, r => Assert.Equal(1.0, r.GetProperty("probabilities").EnumerateObject().Sum(p => p.Value.GetDouble()), 4));
        // The model learned the tags: it agrees with most of them (it has seen these rows).
        double agreement = rows.Count(r => r.GetProperty("label").GetString() == r.GetProperty("tag").GetString()) / (double)rows.Count;
        Assert.True(agreement > 0.7, $"agreement with the tag {agreement:P1}");
        Assert.True(File.Exists(files.Path("preds.jsonl.done")));

        JsonElement summary = JsonDocument.Parse(File.ReadAllText(files.Path("summary.json"))).RootElement;
        JsonElement inference = summary.GetProperty("inference");
        Assert.Equal(input.Count, inference.GetProperty("rows_total").GetInt64());
        JsonElement comparison = inference.GetProperty("comparison");
        Assert.True(comparison.GetProperty("sorted").GetProperty("padding_fraction").GetDouble() < comparison.GetProperty("fixed").GetProperty("padding_fraction").GetDouble() / 2, comparison.ToString());

        // The same rows in Arrow and Parquet, chosen by the extension.
        ResultSchema schema = new() { KeepColumns = ["title", "tag"], LabelNames = labels, MultiLabel = false, ModelHash = "-", TokenizerHash = "-" };
        foreach (string name in new[] { "preds.arrow", "preds.parquet" })
        {
            await InferAsync(files.Folder, "--source", Csv, "--output", name, "--keep-columns", "title,tag");
            List<ResultRow> read = await Collect.AllAsync(ResultFormats.ForPath(name).ReadAsync(files.Path(name), schema));
            List<ResultRow> expected = await Collect.AllAsync(new JsonlResultFormat().ReadAsync(files.Path("preds.jsonl"), schema));
            AssertSameRows(name, expected.Select(Describe).ToList(), read.Select(Describe).ToList());
        }
        Assert.Contains("sorted vs fixed", (await CliProcess.RunAsync(files.Folder, s_limit, "infer", "--checkpoint", await CliFixtures.ClassifierAsync(), "--source", Csv, "--output", "again.jsonl")).Stderr, StringComparison.Ordinal);
        _ = stderr;
    }

    /// <summary>Equal row lists, or a failure that shows the first row that differs in full (the collection diff elides it).</summary>
    private static void AssertSameRows(string name, List<string> expected, List<string> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        int at = expected.Zip(actual).TakeWhile(p => p.First == p.Second).Count();
        Assert.True(at == expected.Count, $"{name}: row {at} differs\nexpected {(at < expected.Count ? expected[at] : "")}\nactual   {(at < actual.Count ? actual[at] : "")}");
    }

    private static string Describe(ResultRow r) =>
        $"{r.Id}|{string.Join('~', r.Kept)}|{r.Status}|{r.Label}|{string.Join(',', r.Probabilities ?? [])}|{r.Tokens}|{r.Position}|{r.Line}|{r.Offset}";

    [SkippableTheory]
    [InlineData(SharedData.PythonDocs, "natural-language-processing,mlops")]
    [InlineData(SharedData.CirrusSample, "computer-vision,other")]
    public async Task FilterBy_KeepsExactlyTheRowsWithThoseLabels(string corpus, string keep)
    {
        string source = SharedData.Require(corpus);
        using var files = new TempFiles();
        await InferAsync(files.Folder, "--source", source, "--text-column", "text", "--output", "all.jsonl");
        await InferAsync(files.Folder, "--source", source, "--text-column", "text", "--output", "kept.jsonl", "--filter-by", keep, "--summary-json", "kept.json");

        string[] labels = keep.Split(',');
        List<JsonElement> all = Rows(files.Path("all.jsonl"));
        List<JsonElement> kept = Rows(files.Path("kept.jsonl"));
        Assert.Equal(all.Where(r => labels.Contains(r.GetProperty("label").GetString())).Select(r => r.GetRawText()), kept.Select(r => r.GetRawText()));
        Assert.NotEmpty(kept);
        JsonElement inference = JsonDocument.Parse(File.ReadAllText(files.Path("kept.json"))).RootElement.GetProperty("inference");
        Assert.Equal(all.Count - kept.Count, inference.GetProperty("filtered_out").GetInt64());
    }

    /// <summary>Waits until the run has committed at least <paramref name="commits"/> chunks, then kills it with SIGKILL.</summary>
    private static async Task<bool> KillAfterCommitsAsync(CliProcess run, string journal, int commits, int extraMilliseconds)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < s_limit)
        {
            int lines = File.Exists(journal) ? File.ReadAllLines(journal).Length : 0;
            if (lines >= commits)
            {
                await Task.Delay(extraMilliseconds);
                return run.Kill();
            }
            if (run.HasExited)
            {
                return false;
            }
            await Task.Delay(10);
        }
        throw new TimeoutException($"the run committed fewer than {commits} chunks in {s_limit.TotalSeconds:0} s");
    }

    private static string[] CrashArgs(string checkpoint, string source, string output) =>
        ["infer", "--checkpoint", checkpoint, "--source", source, "--text-column", "text", "--output", output, "--sort-window", "32", "--commit-every", "32", "--keep-columns", "text", "--progress", "none"];

    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Crash_KilledAtRandomPointsAndRelaunched_GivesTheUninterruptedOutput()
    {
        string source = SharedData.Require(SharedData.PythonDocs);
        string checkpoint = await CliFixtures.ClassifierAsync();
        using var files = new TempFiles();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "whole.jsonl"));
        Assert.True(exit == 0, stderr);
        byte[] whole = File.ReadAllBytes(files.Path("whole.jsonl"));

        var random = new Random(20261201);
        int killed = 0;
        for (int trial = 0; trial < 4; trial++)
        {
            string output = $"trial{trial}.jsonl";
            string journal = files.Path(output + ".work/journal.jsonl");
            // One or two kills per trial, each after a random number of commits and a random delay.
            for (int kill = 0; kill < 1 + (trial % 2); kill++)
            {
                using CliProcess run = CliProcess.Start(files.Folder, CrashArgs(checkpoint, source, output));
                int already = File.Exists(journal) ? File.ReadAllLines(journal).Length : 0;
                if (await KillAfterCommitsAsync(run, journal, already + random.Next(1, 6), random.Next(0, 40)))
                {
                    killed++;
                }
                await run.WaitAsync(s_limit);
            }
            (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, output));
            Assert.True(exit == 0, $"trial {trial}: the relaunch exited {exit}\n{stderr}");
            Assert.True(whole.AsSpan().SequenceEqual(File.ReadAllBytes(files.Path(output))), $"trial {trial}: the output differs from the uninterrupted run's");
            Assert.False(Directory.Exists(files.Path(output + ".work")));
        }
        Assert.True(killed >= 4, $"only {killed} runs were killed before they finished");

        // A finished output: a relaunch has nothing to do and leaves it as it is.
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "whole.jsonl"));
        Assert.Equal(0, exit);
        Assert.Contains("already finished", stderr, StringComparison.Ordinal);
        Assert.True(whole.AsSpan().SequenceEqual(File.ReadAllBytes(files.Path("whole.jsonl"))));
    }

    [SkippableFact]
    public async Task Relaunch_AfterEveryChunkWasCommitted_OnlyAssemblesTheOutput()
    {
        string source = SharedData.Require(SharedData.PythonDocs);
        string checkpoint = await CliFixtures.ClassifierAsync();
        using var files = new TempFiles();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "whole.jsonl"));
        Assert.True(exit == 0, stderr);
        // A folder where the output goes: every chunk commits, then the assembly cannot put the file in place.
        Directory.CreateDirectory(files.Path("late.jsonl"));
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "late.jsonl"));
        Assert.NotEqual(0, exit);
        Assert.True(File.Exists(files.Path("late.jsonl.work/journal.jsonl")), stderr);
        Directory.Delete(files.Path("late.jsonl"));

        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "late.jsonl"));

        Assert.True(exit == 0, $"the relaunch exited {exit}\n{stderr}");
        Assert.Equal(File.ReadAllText(files.Path("whole.jsonl")), File.ReadAllText(files.Path("late.jsonl")));
    }

    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Ranks_ThreeProcessesOneKilledAndRelaunched_MergeToTheSingleProcessOutput()
    {
        string source = SharedData.Require(SharedData.PythonDocs);
        string checkpoint = await CliFixtures.ClassifierAsync();
        using var files = new TempFiles();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, CrashArgs(checkpoint, source, "single.jsonl"));
        Assert.True(exit == 0, stderr);

        string[] Rank(int rank) => [.. CrashArgs(checkpoint, source, "ranked.jsonl"), "--rank", rank.ToString(System.Globalization.CultureInfo.InvariantCulture), "--world-size", "3", "--workers", "1"];
        using (CliProcess rank0 = CliProcess.Start(files.Folder, Rank(0)))
        using (CliProcess rank1 = CliProcess.Start(files.Folder, Rank(1)))
        using (CliProcess rank2 = CliProcess.Start(files.Folder, Rank(2)))
        {
            bool killed = await KillAfterCommitsAsync(rank1, files.Path("ranked.part-00001-of-00003.jsonl.work/journal.jsonl"), 1, 0);
            Assert.True(killed, "rank 1 finished before it could be killed");
            Assert.Equal(0, await rank0.WaitAsync(s_limit));
            Assert.Equal(0, await rank2.WaitAsync(s_limit));
            await rank1.WaitAsync(s_limit);
        }
        // Merging before rank 1 has finished names it.
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "infer", "--merge", "--output", "ranked.jsonl");
        Assert.Equal(3, exit);
        Assert.Contains("rank 1", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, Rank(1));
        Assert.True(exit == 0, $"the relaunched rank 1 exited {exit}\n{stderr}");
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "infer", "--merge", "--output", "ranked.jsonl");
        Assert.True(exit == 0, stderr);

        Assert.Equal(File.ReadAllText(files.Path("single.jsonl")), File.ReadAllText(files.Path("ranked.jsonl")));
    }

    /// <summary>
    /// Two runs on one output: the second is told which process holds it (exit 2) instead of sharing its work folder;
    /// the lock goes with its holder however it ends (here SIGKILL), and a relaunch finishes the output.
    /// </summary>
    [SkippableFact]
    public async Task SecondRunOnOneOutput_IsRefusedNamingTheHolder_AndAKilledHoldersLockIsReleased()
    {
        string docs = SharedData.Require(SharedData.PythonDocs);
        string checkpoint = await CliFixtures.ClassifierAsync();
        using var files = new TempFiles();
        // Ten passes over the Python docs: the first run must outlive a second one's start even on a loaded machine
        // (with four, it once finished before it could be killed).
        const int Passes = 10;
        string[] args = ["infer", "--checkpoint", checkpoint, .. Enumerable.Repeat((string[])["--source", docs], Passes).SelectMany(a => a), "--text-column", "text", "--output", "out.jsonl", "--sort-window", "32", "--commit-every", "64", "--progress", "none"];
        string lockFile = files.Path("out.jsonl.work.lock");

        using (CliProcess holder = CliProcess.Start(files.Folder, args))
        {
            await Eventually.TrueAsync(() => File.Exists(lockFile) && ReadShared(lockFile).Trim() == holder.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) || holder.HasExited, "the first run holds the output's lock", s_limit.TotalSeconds);
            Assert.False(holder.HasExited, "the first run ended before a second could meet it");

            (int second, _, string refused) = await CliProcess.RunAsync(files.Folder, s_limit, args);

            Assert.Equal(2, second);
            Assert.Contains($"another run (process {holder.Id})", refused, StringComparison.Ordinal);
            Assert.True(holder.Kill());
            await holder.WaitAsync(s_limit);
        }
        (int relaunched, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, args);

        Assert.True(relaunched == 0, stderr);
        Assert.Equal(Passes * 497, Rows(files.Path("out.jsonl")).Count);
        // The lock file stays (removing it races with a run that opened it), but nobody holds it: a fourth run goes ahead.
        (int again, _, string againErr) = await CliProcess.RunAsync(files.Folder, s_limit, args);
        Assert.True(again == 0, againErr);
        Assert.Contains("already finished", againErr, StringComparison.Ordinal);

        static string ReadShared(string path)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                return new StreamReader(stream).ReadToEnd();
            }
            catch (IOException)
            {
                return string.Empty;
            }
        }
    }

    [Trait("Category", "EndToEnd")]
    [SkippableFact]
    public async Task Signal_StopsPromptly_CommitsTheRowsInOrder_AndTheRelaunchFinishesTheSameOutput()
    {
        string docs = SharedData.Require(SharedData.PythonDocs);
        string checkpoint = await CliFixtures.ClassifierAsync();
        using var files = new TempFiles();
        // The Python docs four times over (four parts of one source): long enough to be stopped in the middle.
        string[] Args(string output, params string[] more) =>
            ["infer", "--checkpoint", checkpoint, "--source", docs, "--source", docs, "--source", docs, "--source", docs, "--text-column", "text", "--output", output, "--sort-window", "32", "--commit-every", "64", .. more];
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, Args("whole.jsonl", "--progress", "none"));
        Assert.True(exit == 0, stderr);

        using (CliProcess run = CliProcess.Start(files.Folder, Args("stopped.jsonl", "--progress", "plain")))
        {
            // Once a chunk is committed, and more rows are on their way.
            string journal = files.Path("stopped.jsonl.work/journal.jsonl");
            var wait = Stopwatch.StartNew();
            while (!(File.Exists(journal) && File.ReadAllLines(journal).Length > 0) && !run.HasExited && wait.Elapsed < s_limit)
            {
                await Task.Delay(10);
            }
            Assert.False(run.HasExited, "the run finished before it could be stopped");
            await Task.Delay(100);
            var clock = Stopwatch.StartNew();
            run.Signal("TERM");
            Assert.Equal(143, await run.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:0.0} s to stop");
            Assert.Contains("not finished: relaunch", run.Stderr, StringComparison.Ordinal);
        }
        Assert.True(Directory.Exists(files.Path("stopped.jsonl.work")), "the stopped run's committed rows are kept");
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, Args("stopped.jsonl", "--progress", "none"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("continuing", stderr, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(files.Path("whole.jsonl")), File.ReadAllText(files.Path("stopped.jsonl")));
    }

    [SkippableFact]
    public async Task Multilabel_GoEmotions_LabelsOverTheThreshold_ListsInArrow()
    {
        string train = SharedData.Require("labelled/goemotions/train.tsv");
        string dev = SharedData.Require("labelled/goemotions/dev.tsv");
        string names = SharedData.Require("labelled/goemotions/labels.txt");
        using var files = new TempFiles();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "--task", "multilabel", "--all", "--source", train, "--columns", "text,labels,id", "--label-column", "labels",
            "--labels", names, "--vocab", Vocab, "--model", "bag", "--seq-len", "64", "--batch-size", "64", "--lr", "1e-2", "--max-steps", "40", "--eval-split", "0", "--checkpoint", "emotions", "--progress", "none");
        Assert.True(exit == 0, stderr);
        (exit, _, stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "infer", "--checkpoint", "emotions", "--source", dev, "--columns", "text,labels,id", "--output", "emotions.arrow", "--threshold", "0.1", "--progress", "none");
        Assert.True(exit == 0, stderr);

        string[] labels = File.ReadAllLines(names).Where(l => l.Length > 0).ToArray();
        var schema = new ResultSchema { KeepColumns = [], LabelNames = labels, MultiLabel = true, ModelHash = "-", TokenizerHash = "-" };
        List<ResultRow> rows = await Collect.AllAsync(new ArrowResultFormat().ReadAsync(files.Path("emotions.arrow"), schema));
        Assert.Equal(5426, rows.Count);
        Assert.All(rows, r => Assert.Equal(r.Probabilities!.Select((p, i) => (p, i)).Where(x => x.p > 0.1).Select(x => labels[x.i]), r.Labels!));
        Assert.Contains(rows, r => r.Labels!.Length > 0);
        Assert.Equal(File.ReadAllLines(dev).Select(l => l.Split('\t')[2]), rows.Select(r => r.Id));
    }

    [SkippableTheory]
    [InlineData("--output preds.csv", 2, "extension")]
    [InlineData("--output preds.jsonl --filter-by nonsense", 2, "no label 'nonsense'")]
    [InlineData("--output preds.jsonl --keep-columns label", 2, "own column 'label'")]
    [InlineData("--output preds.jsonl --keep-columns nope", 3, "no kept column 'nope'")]
    [InlineData("--output preds.jsonl --vocab {other}", 2, "--vocab")]
    [InlineData("--output preds.jsonl --seq-len 512", 2, "trained with rows of 128")]
    public async Task Infer_BadSettings_OneClearError(string args, int expected, string message)
    {
        using var files = new TempFiles();
        string other = files.WriteText("other-vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nword\n");
        string[] extra = args.Replace("{other}", other, StringComparison.Ordinal).Split(' ');
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, ["infer", "--checkpoint", await CliFixtures.ClassifierAsync(), "--source", Csv, .. extra]);

        Assert.True(exit == expected, $"exit {exit}\n{stderr}");
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        if (expected == 2)
        {
            // A usage error says so before anything runs: a line or two, no report.
            Assert.True(stderr.Split('\n').Length < 10, stderr);
        }
        Assert.False(Directory.Exists(files.Path("preds.jsonl.work")), "a run that committed nothing leaves no work folder");
    }

    [SkippableFact]
    public async Task TaskInfer_OnTheMainCommand_RunsInfer_AndEmptyDocumentsGetTheirRowsMarked()
    {
        using var files = new TempFiles();
        string source = files.WriteText("mixed.jsonl", "{\"id\":\"a\",\"text\":\"a transformer for text classification\"}\n{\"id\":\"b\",\"text\":\"   \"}\n{\"id\":\"c\",\"text\":\"object detection in images\"}\n{\"id\":\"d\"}\n");
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "--task", "infer", "--checkpoint", await CliFixtures.ClassifierAsync(), "--source", source, "--text-column", "text", "--output", "out.jsonl", "--summary-json", "s.json");

        Assert.True(exit == 0, stderr);
        List<JsonElement> rows = Rows(files.Path("out.jsonl"));
        Assert.Equal(["a", "b", "c"], rows.Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(["ok", "empty", "ok"], rows.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(JsonValueKind.Null, rows[1].GetProperty("label").ValueKind);
        // The record without a text field is a counted skip, reported with its line.
        JsonElement summary = JsonDocument.Parse(File.ReadAllText(files.Path("s.json"))).RootElement;
        Assert.Equal(1, summary.GetProperty("provider").GetProperty("skipped").GetProperty("missing_text_field").GetInt64());
        Assert.Equal(1, summary.GetProperty("inference").GetProperty("empty").GetInt64());
    }
    [SkippableFact]
    public async Task LoaderRole_SendsTheSortedBatchesToOnesOwnModel_EveryDocumentOnce()
    {
        using var files = new TempFiles();
        // Documents of 1 to 60 words, so the sorted batches differ in length and rows.
        string source = files.WriteText("docs.jsonl", string.Concat(Enumerable.Range(0, 300).Select(i =>
            $"{{\"id\":\"d{i}\",\"text\":\"{string.Join(' ', Enumerable.Repeat("the quick brown fox", 1 + (i * 37 % 60) / 4))}\"}}\n")));
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, "infer", "--role", "loader", "--out", "batches.frames", "--source", source, "--vocab", Vocab,
            "--seq-len", "64", "--batch-size", "8", "--sort-window", "100", "--compare-fixed", "0", "--progress", "none", "--summary-json", "s.json");
        Assert.True(exit == 0, stderr);

        var ordinals = new List<long>();
        var lengths = new List<int>();
        await using (StreamBatchReader frames = FrameFileTransportKind.Open(files.Path("batches.frames")))
        {
            await foreach (TensorBatch batch in frames.ReadAllAsync())
            {
                using (batch)
                {
                    int[] shape = batch["input_ids"].Shape;
                    Assert.True(shape[0] * shape[1] <= 8 * 64, $"a batch of {shape[0]} x {shape[1]} is over the token budget");
                    ordinals.AddRange(batch["source_ordinal"].AsSpan<long>().ToArray());
                    lengths.Add(shape[1]);
                }
            }
        }
        // One row per document, none twice; the batches are trimmed to their longest row, so lengths vary.
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), ordinals.Order());
        Assert.True(lengths.Distinct().Count() > 3, string.Join(",", lengths));
        JsonElement summary = CliFixtures.Summary(files.Path("s.json"));
        Assert.Equal("loader", summary.GetProperty("role").GetString());
        Assert.Equal(300, summary.GetProperty("documents").GetInt64());
    }

    [SkippableTheory]
    [InlineData("--role loader --out b.frames --output preds.jsonl", "the rows (--output, --filter-by) are written by the model")]
    [InlineData("--role loader", "--role loader needs --out")]
    [InlineData("--role device --out b.frames", "infer takes --role loader")]
    [InlineData("--out b.frames --output preds.jsonl", "--out is for --role loader")]
    public async Task LoaderRole_BadSettings_OneClearError(string args, string message)
    {
        using var files = new TempFiles();
        (int exit, _, string stderr) = await CliProcess.RunAsync(files.Folder, s_limit, ["infer", "--source", Csv, "--vocab", Vocab, .. args.Split(' ')]);

        Assert.True(exit == 2, $"exit {exit}\n{stderr}");
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(files.Path("b.frames")));
    }
}
