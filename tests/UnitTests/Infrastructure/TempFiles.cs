using System.IO.Compression;
using System.Text;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>A temporary folder for a test's files, deleted on dispose.</summary>
public sealed class TempFiles : IDisposable
{
    public TempFiles()
    {
        Folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "streamloader-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string Path(string name) => System.IO.Path.Combine(Folder, name);

    public string WriteText(string name, string content)
    {
        string path = Path(name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public string WriteBytes(string name, byte[] content)
    {
        string path = Path(name);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Gzips <paramref name="content"/> as one member per element.</summary>
    public static byte[] Gzip(params string[] members)
    {
        using var output = new MemoryStream();
        foreach (string member in members)
        {
            using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
            byte[] bytes = Encoding.UTF8.GetBytes(member);
            gzip.Write(bytes);
        }
        return output.ToArray();
    }

    /// <summary>One CirrusSearch page as its two bulk lines.</summary>
    public static string CirrusPage(string id, string title, string text, int ns = 0) =>
        $"{{\"index\":{{\"_type\":\"page\",\"_id\":\"{id}\"}}}}\n{{\"namespace\":{ns},\"title\":\"{title}\",\"text\":\"{text}\",\"page_id\":{id}}}\n";

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
