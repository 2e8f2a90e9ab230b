using System.Net;
using System.Text;

namespace StreamLoader.Provider.Wikipedia;

/// <summary>Turns MediaWiki wikitext into prose that reads as prose, as a page's reader would see its running text.</summary>
/// <remarks>
/// <list type="bullet">
/// <item>Dropped: <c>{{templates}}</c> (nested), tables <c>{| … |}</c>, <c>&lt;ref&gt;…&lt;/ref&gt;</c> and <c>&lt;ref/&gt;</c>,
/// comments, <c>[[File:…]]</c>/<c>[[Image:…]]</c>/<c>[[Category:…]]</c> and interlanguage links, behaviour switches
/// (<c>__NOTOC__</c>), and the contents of <c>math</c>, <c>gallery</c>, <c>timeline</c>, <c>score</c> and similar tags.</item>
/// <item>Kept as text: <c>[[target|label]]</c> → label, <c>[[target]]</c> → target, <c>[http://x label]</c> → label,
/// bold and italic quotes removed, <c>== heading ==</c> → heading, list markers removed, other HTML tags removed with
/// their content kept, entities (<c>&amp;nbsp;</c>, <c>&amp;ndash;</c>) decoded.</item>
/// </list>
/// It is a single left-to-right scan with bounded nesting, so a 50 MB page costs linear time, and unbalanced markup
/// (a template that never closes) drops at most the rest of that page rather than failing.
/// </remarks>
public static class WikitextCleaner
{
    private static readonly string[] s_droppedLinkNamespaces =
    [
        "file:", "image:", "category:", "media:", "wikipedia:", "wp:", "template:", "help:", "portal:", "special:", "user:", "talk:", "draft:", "module:", "mediawiki:", "book:", "timedtext:",
    ];

    // Link labels inside link labels, this deep and no deeper (real pages nest two or three).
    private const int MaxDepth = 32;

    private static readonly string[] s_droppedElements = ["ref", "math", "gallery", "timeline", "score", "syntaxhighlight", "source", "imagemap", "chem", "ce", "graph", "mapframe", "templatedata", "references", "hiero"];

    /// <summary>The prose of <paramref name="wikitext"/>: paragraphs separated by a blank line, headings on their own line.</summary>
    public static string Clean(string wikitext)
    {
        var inline = new StringBuilder(wikitext.Length);
        Inline(wikitext.AsSpan(), inline, depth: 0);
        return Lines(inline.ToString());
    }

    // Pass 1: everything that can span lines (comments, templates, tables, refs, links, tags).
    private static void Inline(ReadOnlySpan<char> text, StringBuilder output, int depth)
    {
        if (depth > MaxDepth)
        {
            // Nesting this deep is broken markup, not prose: keep the text rather than recurse without end.
            output.Append(text);
            return;
        }
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            ReadOnlySpan<char> rest = text[i..];
            if (c == '<')
            {
                if (rest.StartsWith("<!--", StringComparison.Ordinal))
                {
                    int end = rest.IndexOf("-->", StringComparison.Ordinal);
                    i += end < 0 ? rest.Length : end + 3;
                    continue;
                }
                if (TryTag(rest, out int tagLength, out string name, out bool closing, out bool selfClosing))
                {
                    if (!closing && !selfClosing && Array.IndexOf(s_droppedElements, name) >= 0)
                    {
                        int close = IndexOfClosingTag(rest[tagLength..], name);
                        i += close < 0 ? rest.Length : tagLength + close;
                        continue;
                    }
                    if (name is "br" or "p" or "div" or "li")
                    {
                        output.Append(name == "br" ? ' ' : '\n');
                    }
                    i += tagLength;
                    continue;
                }
                output.Append(c);
                i++;
                continue;
            }
            if (c == '{' && rest.StartsWith("{{", StringComparison.Ordinal))
            {
                i += Balanced(rest, "{{", "}}");
                continue;
            }
            if (c == '{' && rest.StartsWith("{|", StringComparison.Ordinal) && AtLineStart(text, i))
            {
                i += Balanced(rest, "{|", "|}");
                continue;
            }
            if (c == '[' && rest.StartsWith("[[", StringComparison.Ordinal))
            {
                int length = Balanced(rest, "[[", "]]");
                bool closed = length >= 4 && rest[..length].EndsWith("]]", StringComparison.Ordinal);
                ReadOnlySpan<char> inner = closed ? rest[2..(length - 2)] : rest[2..length];
                Link(inner, output, depth);
                i += length;
                continue;
            }
            if (c == '[' && IsExternalLink(rest))
            {
                int end = rest.IndexOf(']');
                if (end > 0)
                {
                    ReadOnlySpan<char> inner = rest[1..end];
                    int space = inner.IndexOf(' ');
                    if (space > 0)
                    {
                        Inline(inner[(space + 1)..], output, depth + 1);
                    }
                    i += end + 1;
                    continue;
                }
            }
            if (c == '\'' && rest.StartsWith("''", StringComparison.Ordinal))
            {
                int run = 0;
                while (run < rest.Length && rest[run] == '\'')
                {
                    run++;
                }
                // ''''' and ''' and '' are markup; a fourth quote is an apostrophe before bold (''''x''' → 'x).
                if (run == 4)
                {
                    output.Append('\'');
                }
                i += run;
                continue;
            }
            if ((c == '}' && rest.StartsWith("}}", StringComparison.Ordinal)) || (c == ']' && rest.StartsWith("]]", StringComparison.Ordinal)))
            {
                // A close with no open: the page's own markup is broken (a ref closed inside a template); never prose.
                i += 2;
                continue;
            }
            if (c == '_' && rest.StartsWith("__", StringComparison.Ordinal))
            {
                int end = rest[2..].IndexOf("__", StringComparison.Ordinal);
                if (end > 0 && IsUpperWord(rest[2..(2 + end)]))
                {
                    i += end + 4;
                    continue;
                }
            }
            output.Append(c);
            i++;
        }
    }

    private static void Link(ReadOnlySpan<char> inner, StringBuilder output, int depth)
    {
        ReadOnlySpan<char> target = inner.TrimStart();
        if (target.StartsWith(':'))
        {
            target = target[1..];
        }
        else
        {
            foreach (string prefix in s_droppedLinkNamespaces)
            {
                if (target.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    return;
                }
            }
            // Interlanguage links: [[de:Foo]], [[zh-yue:Foo]].
            int colon = target.IndexOf(':');
            if (colon is >= 2 and <= 12 && IsLanguageCode(target[..colon]) && IndexOfTopLevelPipe(inner) < 0)
            {
                return;
            }
        }
        int pipe = IndexOfTopLevelPipe(inner);
        if (pipe >= 0)
        {
            ReadOnlySpan<char> label = inner[(pipe + 1)..];
            Inline(label, output, depth + 1);
            return;
        }
        ReadOnlySpan<char> plain = target;
        int hash = plain.IndexOf('#');
        if (hash == 0)
        {
            plain = plain[1..];
        }
        output.Append(plain);
    }

    // Pass 2: line structure (headings, lists, indentation), entities and whitespace.
    private static string Lines(string text)
    {
        string decoded = WebUtility.HtmlDecode(text).Replace('\u00A0', ' ');
        var output = new StringBuilder(decoded.Length);
        bool blankPending = false;
        foreach (ReadOnlySpan<char> raw in decoded.AsSpan().EnumerateLines())
        {
            ReadOnlySpan<char> line = raw.Trim();
            if (line.StartsWith('=') && line.EndsWith('=') && line.Length > 2)
            {
                line = line.Trim('=').Trim();
                if (!line.IsEmpty)
                {
                    if (output.Length > 0)
                    {
                        output.Append("\n\n");
                    }
                    output.Append(line);
                    blankPending = true;
                }
                continue;
            }
            while (!line.IsEmpty && line[0] is '*' or '#' or ':' or ';')
            {
                line = line[1..];
            }
            line = line.Trim();
            if (line.IsEmpty || line is "|" or "-" or "----")
            {
                blankPending = output.Length > 0;
                continue;
            }
            if (output.Length > 0)
            {
                output.Append(blankPending ? "\n\n" : "\n");
            }
            blankPending = false;
            AppendCollapsed(line, output);
        }
        return output.ToString();
    }

    private static void AppendCollapsed(ReadOnlySpan<char> line, StringBuilder output)
    {
        bool space = false;
        foreach (char c in line)
        {
            if (c is ' ' or '\t')
            {
                space = true;
                continue;
            }
            if (space)
            {
                // No space before punctuation left behind by a dropped reference or template.
                if (c is not ('.' or ',' or ';' or ':' or ')' or '!' or '?'))
                {
                    output.Append(' ');
                }
                space = false;
            }
            output.Append(c);
        }
    }

    /// <summary>Length of the construct opening at 0 up to and including its balanced close, or to the end if it never closes.</summary>
    private static int Balanced(ReadOnlySpan<char> text, string open, string close)
    {
        int depth = 0;
        int i = 0;
        while (i < text.Length)
        {
            ReadOnlySpan<char> rest = text[i..];
            if (rest.StartsWith(open, StringComparison.Ordinal))
            {
                depth++;
                i += open.Length;
            }
            else if (rest.StartsWith(close, StringComparison.Ordinal))
            {
                depth--;
                i += close.Length;
                if (depth == 0)
                {
                    return i;
                }
            }
            else if (open == "{|" && rest.StartsWith("{{", StringComparison.Ordinal))
            {
                // A template or a link inside a table may hold "|}" ({{!}}, [[Bracket|}]]).
                i += Balanced(rest, "{{", "}}");
            }
            else if (open == "{|" && rest.StartsWith("[[", StringComparison.Ordinal))
            {
                i += Balanced(rest, "[[", "]]");
            }
            else
            {
                i++;
            }
        }
        return text.Length;
    }

    private static int IndexOfTopLevelPipe(ReadOnlySpan<char> inner)
    {
        int depth = 0;
        for (int i = 0; i < inner.Length; i++)
        {
            if (i + 1 < inner.Length && (inner[i] == '[' && inner[i + 1] == '[' || inner[i] == '{' && inner[i + 1] == '{'))
            {
                depth++;
                i++;
            }
            else if (i + 1 < inner.Length && (inner[i] == ']' && inner[i + 1] == ']' || inner[i] == '}' && inner[i + 1] == '}'))
            {
                depth--;
                i++;
            }
            else if (inner[i] == '|' && depth == 0)
            {
                return i;
            }
        }
        return -1;
    }

    private static bool TryTag(ReadOnlySpan<char> text, out int length, out string name, out bool closing, out bool selfClosing)
    {
        length = 0;
        name = string.Empty;
        closing = text.Length > 1 && text[1] == '/';
        selfClosing = false;
        int start = closing ? 2 : 1;
        int i = start;
        while (i < text.Length && char.IsAsciiLetterOrDigit(text[i]))
        {
            i++;
        }
        if (i == start || i - start > 20 || !char.IsAsciiLetter(text[start]))
        {
            return false;
        }
        int end = text[i..Math.Min(text.Length, i + 2000)].IndexOf('>');
        if (end < 0 || text[i..(i + end)].Contains('<'))
        {
            return false;
        }
        if (i < text.Length && text[i] is not (' ' or '>' or '/' or '\t' or '\n'))
        {
            return false;
        }
        name = text[start..i].ToString().ToLowerInvariant();
        length = i + end + 1;
        selfClosing = text[length - 2] == '/';
        return true;
    }

    private static int IndexOfClosingTag(ReadOnlySpan<char> text, string name)
    {
        int i = 0;
        while (i < text.Length)
        {
            int lt = text[i..].IndexOf("</", StringComparison.Ordinal);
            if (lt < 0)
            {
                return -1;
            }
            i += lt;
            ReadOnlySpan<char> rest = text[(i + 2)..];
            if (rest.StartsWith(name, StringComparison.OrdinalIgnoreCase))
            {
                int gt = rest.IndexOf('>');
                return gt < 0 ? -1 : i + 2 + gt + 1;
            }
            i += 2;
        }
        return -1;
    }

    private static bool AtLineStart(ReadOnlySpan<char> text, int index)
    {
        for (int i = index - 1; i >= 0; i--)
        {
            if (text[i] == '\n')
            {
                return true;
            }
            if (text[i] is not (' ' or '\t' or ':'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsExternalLink(ReadOnlySpan<char> text) =>
        text.StartsWith("[http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("[https://", StringComparison.OrdinalIgnoreCase)
        || text.StartsWith("[//", StringComparison.Ordinal) || text.StartsWith("[ftp://", StringComparison.OrdinalIgnoreCase);

    private static bool IsUpperWord(ReadOnlySpan<char> word)
    {
        foreach (char c in word)
        {
            if (!char.IsAsciiLetterUpper(c))
            {
                return false;
            }
        }
        return !word.IsEmpty;
    }

    private static bool IsLanguageCode(ReadOnlySpan<char> prefix)
    {
        foreach (char c in prefix)
        {
            if (!char.IsAsciiLetterLower(c) && c != '-')
            {
                return false;
            }
        }
        return true;
    }
}
