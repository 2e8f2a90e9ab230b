using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// Arrow IPC written by an independent implementation (npm <c>apache-arrow</c>, through scripts/arrow_write.js) read
/// back: stream and file format, <c>utf8</c>, <c>large_utf8</c> and <c>list&lt;int32&gt;</c>, several record batches,
/// and the same stream file inside a Hugging Face <c>save_to_disk</c> folder and a <c>DatasetDict</c> folder.
/// </summary>
public sealed class ArrowInteropTests
{
    private const int Rows = 30;

    private static readonly SourceSettings s_labelled = new() { Columns = new SourceColumns { Label = "labels" } };

    private static string Expected(int i) => $"row {i} says héllo, \"quoted\" and\nnew-lined";

    private static string[] ExpectedLabels(int i, string[]? names = null)
    {
        int[] ids = i % 3 == 0 ? [i % 5, (i + 1) % 5] : [i % 5];
        return ids.Select(id => names is null ? id.ToString(System.Globalization.CultureInfo.InvariantCulture) : names[id]).ToArray();
    }

    [SkippableTheory]
    [InlineData("stream.arrow")]
    [InlineData("file.arrow")]
    public async Task ReadAsync_WrittenByNpmApacheArrow_RowsAndColumnsMatch(string name)
    {
        using var files = new TempFiles();
        WriteWithNode(files.Folder);
        string path = files.Path(name);

        IDocumentSource source = SourceFactory.Create(path, s_labelled);
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal("arrow", SourceFactory.Catalog.Detect(path, new()).Format.Name);
        Assert.Equal(Enumerable.Range(0, Rows).Select(Expected), docs.Select(d => d.Text));
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"r{i}"), docs.Select(d => d.Id));
        for (int i = 0; i < Rows; i++)
        {
            Assert.Equal(ExpectedLabels(i), docs[i].Labels);
        }
    }

    /// <summary>Dictionary-encoded text, id and label columns (as pandas and some Hugging Face exports write them) read as their values.</summary>
    [SkippableFact]
    public async Task ReadAsync_DictionaryEncodedColumns_ReadAsTheirValues()
    {
        using var files = new TempFiles();
        WriteWithNode(files.Folder);
        string path = files.Path("dictionary.arrow");

        IDocumentSource source = SourceFactory.Create(path, new SourceSettings { Columns = new SourceColumns { Label = "tag", Keep = ["tag"] } });
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"text number {i % 4}, héllo"), docs.Select(d => d.Text));
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"r{i}"), docs.Select(d => d.Id));
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => new[] { "red", "green", "blue" }[i % 3]), docs.Select(d => Assert.Single(d.Labels!)));
        Assert.Equal(docs.Select(d => d.Labels![0]), docs.Select(d => d.Metadata!["tag"]));
    }

    [SkippableFact]
    public async Task ReadAsync_SaveToDiskFolder_MapsClassLabelsToNames()
    {
        using var files = new TempFiles();
        WriteWithNode(files.Folder);
        string[] names = ["anger", "joy", "fear", "love", "surprise"];
        string folder = SaveToDisk(files, "dataset", names, copies: 2);

        IDocumentSource source = SourceFactory.Create(folder, s_labelled);
        List<Document> docs = await Collect.DocumentsAsync(source);

        Assert.Equal("hf", SourceFactory.Catalog.Detect(folder, new()).Format.Name);
        Assert.Equal(2 * Rows, docs.Count);
        Assert.Equal(ExpectedLabels(3, names), docs[3].Labels);
        Assert.Equal(ExpectedLabels(4, names), docs[Rows + 4].Labels);
    }

    [SkippableFact]
    public async Task ReadAsync_DatasetDictFolder_ReadsTheChosenSplitAndListsThemWhenMissing()
    {
        using var files = new TempFiles();
        WriteWithNode(files.Folder);
        string root = files.Path("dict");
        Directory.CreateDirectory(root);
        SaveToDisk(files, Path.Combine("dict", "train"), ["a", "b", "c", "d", "e"], copies: 1);
        SaveToDisk(files, Path.Combine("dict", "test"), ["a", "b", "c", "d", "e"], copies: 3);
        File.WriteAllText(Path.Combine(root, "dataset_dict.json"), "{\"splits\": [\"train\", \"test\"]}");

        List<Document> train = await Collect.DocumentsAsync(SourceFactory.Create(root));
        List<Document> test = await Collect.DocumentsAsync(SourceFactory.Create(root, new SourceSettings { FormatOptions = new Dictionary<string, string> { ["split"] = "test" } }));
        SourceFormatException missing = Assert.Throws<SourceFormatException>(() => SourceFactory.Create(root, new SourceSettings { FormatOptions = new Dictionary<string, string> { ["split"] = "validation" } }));

        Assert.Equal(Rows, train.Count);
        Assert.Equal(3 * Rows, test.Count);
        Assert.Contains("the splits are: train, test", missing.Message, StringComparison.Ordinal);
    }

    private static string SaveToDisk(TempFiles files, string name, string[] classNames, int copies)
    {
        string folder = files.Path(name);
        Directory.CreateDirectory(folder);
        var dataFiles = new List<string>();
        for (int i = 0; i < copies; i++)
        {
            string file = $"data-{i:00000}-of-{copies:00000}.arrow";
            File.Copy(files.Path("stream.arrow"), Path.Combine(folder, file));
            dataFiles.Add($"{{\"filename\": \"{file}\"}}");
        }
        File.WriteAllText(Path.Combine(folder, "state.json"), $"{{\"_data_files\": [{string.Join(", ", dataFiles)}], \"_split\": \"train\"}}");
        File.WriteAllText(Path.Combine(folder, "dataset_info.json"),
            $"{{\"features\": {{\"id\": {{\"dtype\": \"string\", \"_type\": \"Value\"}}, \"text\": {{\"dtype\": \"string\", \"_type\": \"Value\"}}, " +
            $"\"labels\": {{\"feature\": {{\"names\": [{string.Join(", ", classNames.Select(n => $"\"{n}\""))}], \"_type\": \"ClassLabel\"}}, \"_type\": \"Sequence\"}}}}}}");
        return folder;
    }

    private static void WriteWithNode(string folder) => NodeScripts.Run("arrow_write.js", folder, Rows.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
