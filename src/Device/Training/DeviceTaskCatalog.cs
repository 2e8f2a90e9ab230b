using System.Reflection;
using StreamLoader.Core.Plugins;
using StreamLoader.Core.Tasks;

namespace StreamLoader.Device.Training;

/// <summary>Finds the device sides of task plugins (<see cref="IDeviceTask"/>), by task name.</summary>
/// <remarks>Only the roles that run a model build one: scanning loads the model classes, and with them TorchSharp.</remarks>
public sealed class DeviceTaskCatalog
{
    private readonly Dictionary<string, IDeviceTask> _tasks = new(StringComparer.OrdinalIgnoreCase);

    private DeviceTaskCatalog()
    {
    }

    /// <summary>The names of the tasks that have a device side.</summary>
    public IReadOnlyCollection<string> TaskNames => _tasks.Keys;

    /// <summary>Scans <paramref name="assemblies"/> for device sides. Two for one task is an error.</summary>
    public static DeviceTaskCatalog Discover(params Assembly[] assemblies)
    {
        var catalog = new DeviceTaskCatalog();
        foreach (IDeviceTask task in PluginTypes.Create<IDeviceTask>(assemblies))
        {
            if (!catalog._tasks.TryAdd(task.TaskName, task))
            {
                throw new InvalidOperationException($"Task '{task.TaskName}' has two device sides: {catalog._tasks[task.TaskName].GetType().FullName} and {task.GetType().FullName}.");
            }
        }
        return catalog;
    }

    /// <summary>The device side of the task named <paramref name="task"/>, if it has one.</summary>
    public bool TryGet(string task, out IDeviceTask device) => _tasks.TryGetValue(task, out device!);

    /// <summary>The device side of <paramref name="task"/>, or an error saying it only makes batches.</summary>
    public IDeviceTask Get(string task) =>
        TryGet(task, out IDeviceTask device)
            ? device
            : throw new InvalidOperationException($"Task '{task}' has no device side (no IDeviceTask names it), so it cannot run a model: it only makes batches (--role loader, inspect, bench).");
}
