using System.Reflection;
using System.Runtime.Loader;
using StreamLoader.Core.Tasks;
using StreamLoader.Device.Training;

namespace StreamLoader.Cli.Hosting;

/// <summary>
/// Finds the task plugins: the built-in ones (the <c>tasks/</c> assemblies, loaded by name) and those of the assemblies
/// given with <c>--plugin path.dll</c>. The console reads <c>--plugin</c> before it builds its options, so a plugin's
/// tasks and their flags appear in <c>--help</c>, <c>tasks</c> and <c>--task</c> like the built-in ones.
/// </summary>
/// <remarks>
/// Batch sides (<see cref="Catalog"/>) come from <c>StreamLoader.Tasks</c>, which needs Core alone; device sides
/// (<see cref="Devices"/>) from <c>StreamLoader.Tasks.Device</c>, loaded only when a role runs a model, so a loader or
/// <c>bench</c> never loads TorchSharp.
/// </remarks>
public static class TaskPlugins
{
    /// <summary>The assembly the built-in tasks' batch sides ship in.</summary>
    public const string BuiltInAssembly = "StreamLoader.Tasks";

    /// <summary>The assembly the built-in tasks' device sides ship in.</summary>
    public const string BuiltInDeviceAssembly = "StreamLoader.Tasks.Device";

    private static TaskCatalog? s_catalog;
    private static DeviceTaskCatalog? s_devices;
    private static IReadOnlyList<Assembly> s_plugins = [];

    /// <summary>The tasks found; the built-in ones only until <see cref="Load"/> is called.</summary>
    public static TaskCatalog Catalog => s_catalog ??= Load([]);

    /// <summary>The plugin assemblies loaded, by full path.</summary>
    public static IReadOnlyList<string> Plugins { get; private set; } = [];

    /// <summary>The tasks' device sides (their models): the built-in ones and the plugins'. Loads TorchSharp.</summary>
    public static DeviceTaskCatalog Devices => s_devices ??= Discover(() => DeviceTaskCatalog.Discover([Assembly.Load(BuiltInDeviceAssembly), .. s_plugins]));

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
        TaskCatalog catalog = Discover(() => TaskCatalog.Discover([.. assemblies]));
        Plugins = loaded;
        s_plugins = assemblies[1..];
        s_devices = null;
        s_catalog = catalog;
        return catalog;
    }

    private static T Discover<T>(Func<T> scan)
    {
        try
        {
            return scan();
        }
        catch (ReflectionTypeLoadException ex)
        {
            throw new InvalidOperationException($"--plugin: a plugin's types could not be loaded ({ex.LoaderExceptions.FirstOrDefault()?.Message}). Build it against this StreamLoader's Core and Device assemblies.", ex);
        }
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
