using System.Reflection;
using System.Runtime.Loader;
using StreamLoader.Core.Tasks;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// Finds the task plugins: the built-in ones (the <c>tasks/</c> assembly, loaded by name) and those of the assemblies
/// given with <c>--plugin path.dll</c>. The console reads <c>--plugin</c> before it builds its options, so a plugin's
/// tasks and their flags appear in <c>--help</c>, <c>tasks</c> and <c>--task</c> like the built-in ones.
/// </summary>
public static class TaskPlugins
{
    /// <summary>The assembly the built-in tasks ship in.</summary>
    public const string BuiltInAssembly = "StreamLoader.Tasks";

    private static TaskCatalog? s_catalog;

    /// <summary>The tasks found; the built-in ones only until <see cref="Load"/> is called.</summary>
    public static TaskCatalog Catalog => s_catalog ??= Load([]);

    /// <summary>The plugin assemblies loaded, by full path.</summary>
    public static IReadOnlyList<string> Plugins { get; private set; } = [];

    /// <summary>Loads the built-in tasks and the plugin assemblies at <paramref name="paths"/>. Throws naming the path that fails.</summary>
    public static TaskCatalog Load(IReadOnlyList<string> paths)
    {
        var assemblies = new List<Assembly> { Assembly.Load(BuiltInAssembly) };
        var loaded = new List<string>();
        foreach (string path in paths)
        {
            string full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new FileNotFoundException($"--plugin {path}: no such file. Give the path of a .NET assembly (.dll) with task classes.", full);
            }
            try
            {
                // The default context: the plugin's references to StreamLoader.Core and StreamLoader.Device bind to the
                // console's own copies, so its classes implement the very interfaces the host checks.
                assemblies.Add(AssemblyLoadContext.Default.LoadFromAssemblyPath(full));
            }
            catch (BadImageFormatException ex)
            {
                throw new BadImageFormatException($"--plugin {path}: not a .NET assembly ({ex.Message}).", ex);
            }
            loaded.Add(full);
        }
        TaskCatalog catalog;
        try
        {
            catalog = TaskCatalog.Discover([.. assemblies]);
        }
        catch (ReflectionTypeLoadException ex)
        {
            throw new InvalidOperationException($"--plugin: a plugin's types could not be loaded ({ex.LoaderExceptions.FirstOrDefault()?.Message}). Build it against this StreamLoader's Core and Device assemblies.", ex);
        }
        Plugins = loaded;
        s_catalog = catalog;
        return catalog;
    }

    /// <summary>The values of <c>--plugin</c> in raw arguments (<c>--plugin a.dll</c> or <c>--plugin=a.dll</c>), before parsing.</summary>
    public static string[] FindPluginArguments(IReadOnlyList<string> args)
    {
        var paths = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--plugin" && i + 1 < args.Count)
            {
                paths.Add(args[++i]);
            }
            else if (args[i].StartsWith("--plugin=", StringComparison.Ordinal))
            {
                paths.Add(args[i]["--plugin=".Length..]);
            }
        }
        return paths.ToArray();
    }
}
