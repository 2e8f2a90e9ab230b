using StreamLoader.Tests.Infrastructure;
using static StreamLoader.Device.Tests.Console.CliFixtures;

namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// The examples of README.md, --help and docs, run as a user runs them from a shell with no terminal; and a check that
/// every example --help prints is among them.
/// </summary>
public sealed class ExampleTests
{
    /// <summary>
    /// Every example in <c>--help</c> and README.md, run as written with the placeholders filled in (local files for
    /// vocab.txt and docs.jsonl, a loopback server for the dump URL) and a step limit where the example trains. The
    /// examples that infer with <c>runs/classify</c> find there the classifier the tests share (training one is an
    /// example of its own).
    /// </summary>
    [SkippableTheory]
    [Trait("Category", "EndToEnd")]
    [InlineData("help: main job", "--task mlm --all --model micro --max-steps 3")]
    [InlineData("help: cirrussearch dump", "--task mlm --all --source {wiki} --vocab {vocab} --epochs 1 --model micro --max-steps 3")]
    [InlineData("help: dump while it downloads", "--task mlm --all --source {url} --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: frames on a pipe", "--role loader --out - --vocab {vocab} --max-steps 5 | python3 {repo}/scripts/read_frames.py --summary")]
    [InlineData("help: bench", "bench --source docs.jsonl --vocab {vocab}")]
    [InlineData("help: inspect", "inspect --source docs.jsonl")]
    [InlineData("help: tasks", "tasks")]
    [InlineData("help: clm", "--task clm --all --source docs.jsonl --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: classify", "--task classify --all --source {csv} --text-column title,description --label-column tag --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: run file", "--all --config {repo}/examples/configs/classify-made-with-ml.toml --max-steps 3")]
    [InlineData("readme: run file, shown and overridden", "config show --task classify --source {csv} --text-column title,description --label-column tag --vocab {vocab} --model bag > classify.toml"
        + " && {cli} --all --config classify.toml --max-steps 3 --lr 5e-3")]
    [InlineData("readme: clm with a llama 3 tokenizer.json", "--task clm --all --source {python} --tokenizer {llama3} --max-steps 8 --model micro")]
    [InlineData("readme: classify", "--task classify --all --source {csv} --text-column title,description --label-column tag --vocab {vocab} --eval-split 0.2 --epochs 20 --model bag --lr 1e-2 --batch-size 16 --max-steps 40")]
    [InlineData("tasks.md: multilabel", "--task multilabel --all --source {tsv} --source {dev} --eval-split file:dev.tsv --columns text,labels,id --label-column labels --id-column id --labels {labels} --vocab {vocab} --model bag --seq-len 64 --batch-size 32 --epochs 3 --lr 1e-2 --threshold 0.3 --max-steps 20")]
    [InlineData("tasks.md: plugin", "--plugin {plugin} --task bigram --all --max-steps 5")]
    [InlineData("readme: wikipedia sample", "--task mlm --all --source {wiki} --vocab {vocab} --epochs 1 --seed 1 --summary-json out.json --model micro --max-steps 3")]
    [InlineData("readme: jsonl with tiktoken", "--task mlm --all --source docs.jsonl.gz --tokenizer tiktoken --model micro --max-steps 3")]
    [InlineData("readme: doctor", "doctor")]
    [InlineData("tokenize --help: example", "tokenize --source docs.jsonl --vocab {vocab} --output ids.jsonl")]
    [InlineData("scan --help: cirrussearch", "scan --source {wiki}")]
    [InlineData("readme: scan csv", "scan --source {csv} --text-column title,description --label-column tag --summary-json scan.json")]
    [InlineData("readme: scan tsv", "scan --source {tsv} --columns text,labels,id --label-column labels")]
    [InlineData("readme: mix", "--task mlm --all --source docs.jsonl.gz --source {wiki} --weights 0.7,0.3 --vocab {vocab} --model micro --max-steps 3")]
    [InlineData("help: infer", "infer --checkpoint runs/classify --source {csv} --output preds.jsonl")]
    [InlineData("infer --help: keep columns, filter, ranks and merge", "infer --checkpoint runs/classify --source {csv} --output preds.jsonl --keep-columns title,tag"
        + " && {cli} infer --checkpoint runs/classify --source docs.jsonl --text-column text --output nlp.parquet --filter-by natural-language-processing"
        + " && for r in 0 1 2; do RANK=$r WORLD_SIZE=3 {cli} infer --checkpoint runs/classify --source {csv} --output ranked.jsonl || exit 1; done && {cli} infer --merge --output ranked.jsonl")]
    [InlineData("readme: infer, then filter the Python docs", "infer --checkpoint runs/classify --source {csv} --output preds.jsonl --keep-columns title,tag"
        + " && {cli} infer --checkpoint runs/classify --source {python} --text-column text --output nlp.parquet --filter-by natural-language-processing")]
    [InlineData("inference.md: task infer and parquet", "--task infer --checkpoint runs/classify --source {wiki} --text-column text --output nlp.parquet --filter-by natural-language-processing,mlops")]
    public async Task Examples_RunAsAUserWould(string example, string command)
    {
        command = command.Replace("{cli}", $"dotnet {CliProcess.Dll}", StringComparison.Ordinal);
        using var files = new TempFiles();
        Jsonl(files, "docs.jsonl", 40);
        files.WriteBytes("docs.jsonl.gz", TempFiles.Gzip(File.ReadAllText(files.Path("docs.jsonl"))));
        bool needsShared = command.Contains("{wiki}", StringComparison.Ordinal) || command.Contains("{url}", StringComparison.Ordinal) || command.Contains("{vocab}", StringComparison.Ordinal);
        string csv = command.Contains("{csv}", StringComparison.Ordinal) ? SharedData.Require("labelled/made-with-ml/dataset.csv") : string.Empty;
        string tsv = command.Contains("{tsv}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/train.tsv") : string.Empty;
        string dev = command.Contains("{dev}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/dev.tsv") : string.Empty;
        string labels = command.Contains("{labels}", StringComparison.Ordinal) ? SharedData.Require("labelled/goemotions/labels.txt") : string.Empty;
        string plugin = Path.Combine(SharedData.RepositoryRoot, "examples", "BigramTaskPlugin", "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "StreamLoader.BigramTaskPlugin.dll");
        string wiki = needsShared ? SharedData.Require(SharedData.CirrusSample) : string.Empty;
        string python = command.Contains("{python}", StringComparison.Ordinal) ? SharedData.Require(SharedData.PythonDocs) : string.Empty;
        string vocab = needsShared ? SharedData.Require(SharedData.BertVocab) : string.Empty;
        string llama3 = command.Contains("{llama3}", StringComparison.Ordinal) ? NodeScripts.TokenizerJson("llama3") : string.Empty;
        if (command.Contains("runs/classify", StringComparison.Ordinal))
        {
            CopyFolder(await ClassifierAsync(), files.Path("runs/classify"));
        }
        await using var server = new LoopbackHttpServer(needsShared ? File.ReadAllBytes(wiki) : []);
        string line = command.Replace("{wiki}", wiki, StringComparison.Ordinal).Replace("{vocab}", vocab, StringComparison.Ordinal)
            .Replace("{csv}", csv, StringComparison.Ordinal).Replace("{tsv}", tsv, StringComparison.Ordinal).Replace("{dev}", dev, StringComparison.Ordinal)
            .Replace("{labels}", labels, StringComparison.Ordinal).Replace("{plugin}", plugin, StringComparison.Ordinal)
            .Replace("{url}", server.Url, StringComparison.Ordinal).Replace("{llama3}", llama3, StringComparison.Ordinal).Replace("{python}", python, StringComparison.Ordinal).Replace("{repo}", SharedData.RepositoryRoot, StringComparison.Ordinal);

        // No terminal and nothing on standard input, for every command of a pipeline.
        string shell = $"exec < /dev/null; dotnet {CliProcess.Dll} {line}";
        (int exit, string stdout, string stderr) = await RunProgramAsync(files.Folder, "bash", "-o", "pipefail", "-c", shell);

        Assert.True(exit == 0, $"{example}: '{line}' exited {exit}\n{stderr}");
        Assert.NotEqual(string.Empty, stdout + stderr);
    }

    /// <summary>
    /// Each example line that --help prints is run by <see cref="Examples_RunAsAUserWould"/>: the example's words
    /// appear in order in one of its commands (which may add a step limit), with the placeholders of the test for the
    /// file names that --help uses.
    /// </summary>
    [Fact]
    public async Task Examples_CoverEveryExampleInHelp()
    {
        using var files = new TempFiles();
        (_, string help, _) = await CliProcess.RunAsync(files.Folder, Limit, "--help");
        string examplesPart = help[help.IndexOf("Examples:", StringComparison.Ordinal)..help.IndexOf("Usage:", StringComparison.Ordinal)];
        string[] examples = examplesPart.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("streamloader ", StringComparison.Ordinal)).ToArray();
        string[][] covered = typeof(ExampleTests).GetMethod(nameof(Examples_RunAsAUserWould))!.GetCustomAttributes(typeof(InlineDataAttribute), false)
            .Cast<InlineDataAttribute>().Select(d => Words((string)d.GetData(null!).Single()[1])).ToArray();

        Assert.NotEmpty(examples);
        foreach (string example in examples)
        {
            // The command is what comes before the description (two spaces or more), less "streamloader".
            string command = System.Text.RegularExpressions.Regex.Split(example["streamloader ".Length..], " {2,}")[0];
            string[] words = Words(command
                .Replace("https://dumps.wikimedia.org/other/cirrussearch/<date>/enwiki-<date>-cirrussearch-content.json.gz", "{url}", StringComparison.Ordinal)
                .Replace("enwiki-cirrussearch-content.json.gz", "{wiki}", StringComparison.Ordinal).Replace("vocab.txt", "{vocab}", StringComparison.Ordinal)
                .Replace("dataset.csv", "{csv}", StringComparison.Ordinal).Replace("scripts/read_frames.py", "{repo}/scripts/read_frames.py", StringComparison.Ordinal)
                .Replace("examples/configs/", "{repo}/examples/configs/", StringComparison.Ordinal));
            Assert.True(covered.Any(c => InOrder(words, c)), $"--help's example '{example}' is not among the examples the tests run");
        }

        static string[] Words(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        static bool InOrder(string[] words, string[] within)
        {
            int at = 0;
            foreach (string word in within)
            {
                if (at < words.Length && word == words[at])
                {
                    at++;
                }
            }
            return at == words.Length;
        }
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        foreach (string folder in Directory.GetDirectories(from))
        {
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }
}
