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
        var command = new Command("tasks", "List the task plugins (built in, and those of --plugin assemblies), what each does, and the settings each takes.");
        command.Options.Add(CliOptions.Plugin);
        command.SetAction(result =>
        {
            foreach (ITrainingTask task in PipelineHost.Catalog.Tasks)
            {
                string device = task.Mode == TaskMode.Infer ? "runs a trained classify or multilabel checkpoint (streamloader infer)" : task is IDeviceTask ? "trains on the device" : "batches only";
                Console.WriteLine($"{task.Name,-12} {task.Description}");
                Console.WriteLine($"{string.Empty,-12} mode: {task.Mode.ToString().ToLowerInvariant()}, {device}");
                if (task.Labels != LabelKind.None)
                {
                    Console.WriteLine($"{string.Empty,-12} labels: {(task.Labels == LabelKind.Single ? "one per document" : "any number per document")} (--label-column, --labels, --eval-split)");
                }
                foreach (TaskOptionInfo option in task.Options)
                {
                    string flag = option.Flag is null ? string.Empty : $"{option.Flag} VALUE or ";
                    Console.WriteLine($"{string.Empty,-12} {flag}--set {option.Key}={option.Default}   {option.Description}");
                }
                Console.WriteLine();
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
