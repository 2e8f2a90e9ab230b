using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Xml;
using StreamLoader.Core.Documents;

namespace StreamLoader.Provider.BuiltIn;

/// <summary>
/// The built-in corpus: real English prose from the XML documentation files that ship with the .NET SDK's reference
/// packs and with the NuGet packages the app was built with. It needs no network and no file from outside the install.
/// </summary>
/// <remarks>
/// Each document gathers the <c>summary</c> and <c>remarks</c> text of one type and its members. Cross-references
/// become their short names (<c>&lt;see cref="T:System.String"/&gt;</c> becomes "String"); code blocks are left out.
/// </remarks>
public sealed class XmlDocumentationCorpus : IDocumentSource
{
    private readonly IReadOnlyList<string> _files;

    /// <summary>Uses the given documentation files, in order.</summary>
    public XmlDocumentationCorpus(IReadOnlyList<string> files)
    {
        if (files.Count == 0)
        {
            throw new InvalidOperationException("The built-in corpus found no XML documentation files: neither the .NET SDK's reference pack nor the app's folder has any. Pass --source with a file or URL.");
        }
        _files = files;
    }

    /// <summary>Finds the documentation files on this machine; see <see cref="FindDocumentationFiles"/>.</summary>
    public static XmlDocumentationCorpus Discover() => new(FindDocumentationFiles());

    public string Description => $"builtin:xml-docs ({_files.Count} files)";

    public string Fingerprint => "builtin|" + string.Join('|', _files.Select(Path.GetFileName));

    public SourceStatistics Statistics { get; } = new();

    /// <summary>The files the corpus reads.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>
    /// The newest Microsoft.NETCore.App.Ref pack's XML files under the running dotnet's root, when an SDK is installed,
    /// then any XML documentation files next to the app (package docs copied at build time). Sorted by name within each.
    /// </summary>
    public static IReadOnlyList<string> FindDocumentationFiles()
    {
        var files = new List<string>();
        string? refPack = FindReferencePackFolder();
        if (refPack is not null)
        {
            files.AddRange(Directory.GetFiles(refPack, "*.xml").Order(StringComparer.Ordinal));
        }
        files.AddRange(Directory.GetFiles(AppContext.BaseDirectory, "*.xml").Order(StringComparer.Ordinal));
        return files;
    }

    private static string? FindReferencePackFolder()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } dotnetRoot)
        {
            roots.Add(dotnetRoot);
        }
        // .../dotnet/shared/Microsoft.NETCore.App/<version>/ -> .../dotnet
        string runtimeDir = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        if (Directory.GetParent(runtimeDir)?.Parent?.Parent is { } installRoot)
        {
            roots.Add(installRoot.FullName);
        }
        foreach (string root in roots)
        {
            string packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
            if (!Directory.Exists(packs))
            {
                continue;
            }
            foreach (string version in Directory.GetDirectories(packs).OrderByDescending(v => Version.TryParse(Path.GetFileName(v).Split('-')[0], out Version? parsed) ? parsed : new Version(0, 0)))
            {
                string refDir = Path.Combine(version, "ref");
                if (!Directory.Exists(refDir))
                {
                    continue;
                }
                string? tfm = Directory.GetDirectories(refDir).Where(d => Directory.GetFiles(d, "*.xml").Length > 0).Order(StringComparer.Ordinal).LastOrDefault();
                if (tfm is not null)
                {
                    return tfm;
                }
            }
        }
        return null;
    }

    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var settings = new XmlReaderSettings { Async = true, DtdProcessing = DtdProcessing.Ignore, IgnoreComments = true, XmlResolver = null };
        foreach (string file in _files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string fileName = Path.GetFileNameWithoutExtension(file);
            string? groupKey = null;
            var group = new StringBuilder();
            var memberText = new StringBuilder();
            XmlReader? reader = null;
            try
            {
                reader = XmlReader.Create(file, settings);
            }
            catch (IOException ex)
            {
                Statistics.AddSkip("unreadable_file", $"{file}: {ex.Message}");
                continue;
            }

            using (reader)
            {
                while (true)
                {
                    bool read;
                    try
                    {
                        read = await reader.ReadAsync().ConfigureAwait(false);
                    }
                    catch (XmlException ex)
                    {
                        Statistics.AddSkip("malformed_xml", $"{file}: line {ex.LineNumber}: {ex.Message}");
                        break;
                    }
                    if (!read)
                    {
                        break;
                    }
                    if (reader.NodeType != XmlNodeType.Element || reader.Name != "member")
                    {
                        continue;
                    }
                    string name = reader.GetAttribute("name") ?? string.Empty;
                    Statistics.AddRecord();
                    memberText.Clear();
                    using (XmlReader member = reader.ReadSubtree())
                    {
                        await AppendProseAsync(member, memberText).ConfigureAwait(false);
                    }
                    string key = TypeKey(name);
                    if (groupKey is not null && key != groupKey && group.Length > 0)
                    {
                        Statistics.AddYielded();
                        yield return new Document($"{fileName}:{groupKey}", group.ToString()) { Metadata = new Dictionary<string, string> { ["title"] = groupKey } };
                        group.Clear();
                    }
                    groupKey = key;
                    if (memberText.Length > 0)
                    {
                        if (group.Length > 0)
                        {
                            group.Append('\n');
                        }
                        group.Append(memberText);
                    }
                }
            }
            if (groupKey is not null && group.Length > 0)
            {
                Statistics.AddYielded();
                yield return new Document($"{fileName}:{groupKey}", group.ToString()) { Metadata = new Dictionary<string, string> { ["title"] = groupKey } };
            }
        }
    }

    /// <summary>"M:System.String.Split(System.Char)" becomes "System.String"; "T:System.String" stays "System.String".</summary>
    private static string TypeKey(string memberName)
    {
        if (memberName.Length < 2 || memberName[1] != ':')
        {
            return memberName;
        }
        string body = memberName[2..];
        int paren = body.IndexOf('(', StringComparison.Ordinal);
        if (paren >= 0)
        {
            body = body[..paren];
        }
        if (memberName[0] == 'T')
        {
            return body;
        }
        int dot = body.LastIndexOf('.');
        return dot > 0 ? body[..dot] : body;
    }

    private static async Task AppendProseAsync(XmlReader member, StringBuilder output)
    {
        bool inProse = false;
        int depth = -1;
        int skipDepth = -1;
        while (await member.ReadAsync().ConfigureAwait(false))
        {
            switch (member.NodeType)
            {
                case XmlNodeType.Element:
                    if (skipDepth >= 0)
                    {
                        break;
                    }
                    if (!inProse && member.Name is "summary" or "remarks")
                    {
                        inProse = true;
                        depth = member.Depth;
                        if (output.Length > 0)
                        {
                            output.Append(' ');
                        }
                        break;
                    }
                    if (!inProse)
                    {
                        break;
                    }
                    if (member.Name == "code")
                    {
                        if (!member.IsEmptyElement)
                        {
                            skipDepth = member.Depth;
                        }
                        break;
                    }
                    if (member.Name is "see" or "seealso" or "paramref" or "typeparamref" && member.IsEmptyElement)
                    {
                        string? reference = member.GetAttribute("cref") ?? member.GetAttribute("langword") ?? member.GetAttribute("name") ?? member.GetAttribute("href");
                        if (reference is not null)
                        {
                            AppendWord(output, ShortName(reference));
                        }
                    }
                    else if (member.Name is "para" or "br" or "item")
                    {
                        AppendWord(output, string.Empty);
                    }
                    break;
                case XmlNodeType.EndElement:
                    if (skipDepth >= 0)
                    {
                        if (member.Depth == skipDepth)
                        {
                            skipDepth = -1;
                        }
                        break;
                    }
                    if (inProse && member.Depth == depth)
                    {
                        inProse = false;
                    }
                    break;
                case XmlNodeType.Text:
                case XmlNodeType.CDATA:
                case XmlNodeType.SignificantWhitespace:
                case XmlNodeType.Whitespace:
                    if (inProse && skipDepth < 0)
                    {
                        AppendCollapsed(output, member.Value);
                    }
                    break;
            }
        }
        // Trim trailing space.
        while (output.Length > 0 && output[^1] == ' ')
        {
            output.Length--;
        }
    }

    private static string ShortName(string reference)
    {
        string name = reference.Length > 2 && reference[1] == ':' ? reference[2..] : reference;
        int paren = name.IndexOf('(', StringComparison.Ordinal);
        if (paren >= 0)
        {
            name = name[..paren];
        }
        int dot = name.LastIndexOf('.');
        if (dot >= 0 && dot < name.Length - 1)
        {
            name = name[(dot + 1)..];
        }
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        return tick > 0 ? name[..tick] : name;
    }

    private static void AppendWord(StringBuilder output, string word)
    {
        if (output.Length > 0 && output[^1] != ' ')
        {
            output.Append(' ');
        }
        output.Append(word);
    }

    private static void AppendCollapsed(StringBuilder output, string text)
    {
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                if (output.Length > 0 && output[^1] != ' ')
                {
                    output.Append(' ');
                }
            }
            else
            {
                output.Append(c);
            }
        }
    }
}
