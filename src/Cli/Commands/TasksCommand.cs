using System.CommandLine;
using System.Text.Json;
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
        command.Options.Add(CliOptions.OutputFormat);
        command.SetAction(result =>
        {
            bool json;
            try
            {
                json = CliOptions.WantsJson(result);
            }
            catch (ArgumentException ex)
            {
                return CommandErrors.Report(ex);
            }
            if (json)
            {
                WriteJson(Console.OpenStandardOutput());
                return ExitCodes.Success;
            }
            foreach (ITrainingTask task in PipelineHost.Catalog.Tasks)
            {
                string device = task.Mode == TaskMode.Infer ? "runs a trained classify or multilabel checkpoint (streamloader infer)" : TaskPlugins.Devices.TryGet(task.Name, out _) ? "trains on the device" : "batches only";
                Console.WriteLine($"{task.Name,-12} {task.Description}");
                Console.WriteLine($"{string.Empty,-12} mode: {task.Mode.ToString().ToLowerInvariant()}, {device}");
                if (task.Labels != LabelKind.None)
                {
                    Console.WriteLine($"{string.Empty,-12} labels: {(task.Labels == LabelKind.Single ? "one per document" : "any number per document")} (--label-column, --labels, --eval-split)");
                }
                foreach (TaskOption option in task.Options)
                {
                    string flag = option.Flag is null ? string.Empty : $"{option.Flag} VALUE or ";
                    Console.WriteLine($"{string.Empty,-12} {flag}--set {option.Key}={option.DefaultText}   {option.Description} ({option.Accepts})");
                }
                Console.WriteLine();
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary><c>tasks --output-format json</c>: every task, what it batches, and each setting with its flag, default and type.</summary>
    private static void WriteJson(Stream output)
    {
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("schema", "streamloader.tasks/1");
            json.WriteStartArray("tasks");
            foreach (ITrainingTask task in PipelineHost.Catalog.Tasks)
            {
                json.WriteStartObject();
                json.WriteString("name", task.Name);
                json.WriteString("description", task.Description);
                json.WriteString("mode", task.Mode.ToString().ToLowerInvariant());
                json.WriteBoolean("trains_on_device", TaskPlugins.Devices.TryGet(task.Name, out _));
                json.WriteString("labels", task.Labels switch { LabelKind.Single => "single", LabelKind.Multi => "multi", _ => "none" });
                json.WriteStartArray("settings");
                foreach (TaskOption option in task.Options)
                {
                    json.WriteStartObject();
                    json.WriteString("key", option.Key);
                    if (option.Flag is not null)
                    {
                        json.WriteString("flag", option.Flag);
                    }
                    json.WriteString("default", option.DefaultText);
                    json.WriteString("type", option.TypeName);
                    json.WriteString("accepts", option.Accepts);
                    json.WriteString("description", option.Description);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.Write("\n"u8);
        output.Flush();
    }
}
