using System.Reflection;
using StreamLoader.Core.Plugins;

namespace StreamLoader.Core.Tasks;

/// <summary>Finds task plugins: every public, non-abstract <see cref="ITrainingTask"/> with a parameterless constructor.</summary>
public sealed class TaskCatalog
{
    private readonly SortedDictionary<string, ITrainingTask> _tasks = new(StringComparer.OrdinalIgnoreCase);

    private TaskCatalog()
    {
    }

    /// <summary>All tasks found, ordered by name.</summary>
    public IReadOnlyCollection<ITrainingTask> Tasks => _tasks.Values;

    /// <summary>Scans <paramref name="assemblies"/> for task plugins. Two tasks with one name is an error.</summary>
    public static TaskCatalog Discover(params Assembly[] assemblies)
    {
        var catalog = new TaskCatalog();
        foreach (ITrainingTask task in PluginTypes.Create<ITrainingTask>(assemblies))
        {
            if (!catalog._tasks.TryAdd(task.Name, task))
            {
                throw new InvalidOperationException($"Two task plugins are named '{task.Name}': {catalog._tasks[task.Name].GetType().FullName} and {task.GetType().FullName}.");
            }
        }
        return catalog;
    }

    /// <summary>Finds a task by name (case-insensitive).</summary>
    public bool TryGet(string name, out ITrainingTask task) => _tasks.TryGetValue(name, out task!);

    /// <summary>The task with the given name, or an error that lists the known ones.</summary>
    public ITrainingTask Get(string name) =>
        TryGet(name, out ITrainingTask task)
            ? task
            : throw new ArgumentException($"Unknown task '{name}'. Known tasks: {string.Join(", ", _tasks.Keys)}.", nameof(name));
}
