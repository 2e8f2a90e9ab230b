using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace StreamLoader.Device.Runtime;

/// <summary>One library's load attempt: where from, whether it loaded, and if not, the loader's message and the missing symbol.</summary>
public sealed record LibraryProbe(string Library, string Path, bool Loaded, string? Error, string? MissingSymbol, string? MissingVersion);

/// <summary>
/// Loads libtorch and TorchSharp's native bridge one library at a time, in dependency order, and records exactly what
/// fails: the library, the dynamic loader's message, and the undefined symbol or missing version it names. Used when
/// TorchSharp runs against a libtorch other than the one it was built for (for example a PyTorch install's).
/// </summary>
public static partial class NativeLoadProbe
{
    /// <summary>libtorch's libraries in the order their dependencies need.</summary>
    public static readonly string[] LibTorchOrder = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];

    /// <summary>Loads each library of <paramref name="libtorchFolder"/> that exists, then TorchSharp's bridge.</summary>
    public static IReadOnlyList<LibraryProbe> Probe(string? libtorchFolder)
    {
        var results = new List<LibraryProbe>();
        if (!string.IsNullOrEmpty(libtorchFolder))
        {
            if (!Directory.Exists(libtorchFolder))
            {
                results.Add(new LibraryProbe("libtorch", libtorchFolder, false, "no such folder", null, null));
                return results;
            }
            foreach (string name in LibTorchOrder)
            {
                string path = System.IO.Path.Combine(libtorchFolder, name);
                if (File.Exists(path))
                {
                    results.Add(TryLoad(name, path));
                }
            }
        }
        string? bridge = FindBridge();
        results.Add(bridge is null
            ? new LibraryProbe("libLibTorchSharp.so", AppContext.BaseDirectory, false, "not found next to the app or under runtimes/linux-x64/native", null, null)
            : TryLoad("libLibTorchSharp.so", bridge));
        return results;
    }

    /// <summary>The app's copy of TorchSharp's native bridge.</summary>
    public static string? FindBridge()
    {
        foreach (string candidate in (string[])[
            System.IO.Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
            System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so")])
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static LibraryProbe TryLoad(string name, string path)
    {
        try
        {
            NativeLibrary.Load(path);
            return new LibraryProbe(name, path, true, null, null, null);
        }
        catch (DllNotFoundException ex)
        {
            // .NET carries dlerror()'s text, e.g. "...: undefined symbol: _ZN3c10..." or "version `GLIBCXX_3.4.32' not found".
            Match symbol = UndefinedSymbol().Match(ex.Message);
            Match version = MissingVersion().Match(ex.Message);
            return new LibraryProbe(name, path, false, ex.Message, symbol.Success ? symbol.Groups[1].Value : null, version.Success ? version.Groups[1].Value : null);
        }
        catch (BadImageFormatException ex)
        {
            return new LibraryProbe(name, path, false, ex.Message, null, null);
        }
    }

    [GeneratedRegex(@"undefined symbol: (\S+)")]
    private static partial Regex UndefinedSymbol();

    [GeneratedRegex(@"version `([^']+)' not found")]
    private static partial Regex MissingVersion();
}
