using System.CommandLine;
using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Tasks;
using StreamLoader.Device.Training;

namespace StreamLoader.Cli.Commands;

/// <summary><c>streamloader tasks</c>: lists the task plugins found in <c>tasks/</c> with their settings.</summary>
internal static class TasksCommand
{
    public static Command Create()
    {
        var command = new Command("tasks", "List the task plugins, what each does, and the settings each takes with --set key=value.");
        command.SetAction(result =>
        {
            foreach (ITrainingTask task in PipelineHost.Catalog.Tasks)
            {
                string device = task is IDeviceTask ? "trains on the device" : "batches only";
                Console.WriteLine($"{task.Name,-12} {task.Description}");
                Console.WriteLine($"{string.Empty,-12} mode: {task.Mode.ToString().ToLowerInvariant()}, {device}");
                foreach (TaskOptionInfo option in task.Options)
                {
                    Console.WriteLine($"{string.Empty,-12} --set {option.Key}={option.Default}   {option.Description}");
                }
                Console.WriteLine();
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
