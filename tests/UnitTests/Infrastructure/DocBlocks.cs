using System.Text.RegularExpressions;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>Code blocks of the docs, for tests that run them as written (so the docs cannot drift from what works).</summary>
public static partial class DocBlocks
{
    /// <summary>
    /// The <paramref name="index"/>th fenced block of <paramref name="language"/> after the line <paramref name="heading"/>
    /// of <c>docs/<paramref name="doc"/></c> (and before the next heading of that level or higher); fails naming what is missing.
    /// </summary>
    public static string After(string doc, string heading, string language, int index = 0)
    {
        string text = File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, "docs", doc));
        int at = text.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"docs/{doc} has no heading '{heading}'");
        // The section ends at the next heading of this level or higher; a '#' line inside a code block is no heading.
        int level = heading.IndexOf(' ', StringComparison.Ordinal);
        int end = at + heading.Length + 2;
        var section = new System.Text.StringBuilder();
        bool inCode = false;
        foreach (string line in text[end..].Split('\n'))
        {
            inCode ^= line.StartsWith("```", StringComparison.Ordinal);
            int hashes = line.Length - line.TrimStart('#').Length;
            if (!inCode && hashes is > 0 && hashes <= level && line.Length > hashes && line[hashes] == ' ')
            {
                break;
            }
            section.Append(line).Append('\n');
        }
        MatchCollection blocks = Regex.Matches(section.ToString(), $"```{Regex.Escape(language)}\n(.*?)```", RegexOptions.Singleline);
        Assert.True(blocks.Count > index, $"docs/{doc} has {blocks.Count} '{language}' block(s) under '{heading}'; the test needs block {index + 1}");
        return blocks[index].Groups[1].Value;
    }
}
