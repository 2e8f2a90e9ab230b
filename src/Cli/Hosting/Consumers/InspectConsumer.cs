using System.Text.Json;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>Inspect: decodes the first batches back to text, with the task's targets, on standard output (as text, or one JSON object per batch).</summary>
internal sealed class InspectConsumer : IRunConsumer
{
    private readonly int _batches;
    private readonly int _rows;
    private readonly bool _json;

    public InspectConsumer(int batches, int rows, bool json)
    {
        _batches = batches;
        _rows = rows;
        _json = json;
    }

    public string Command => "inspect";

    public void AddStages(PipelineRun run)
    {
        IBatchReader input = run.Reader!;
        TextWriter output = run.Output;
        run.ConsumerStage = run.Pipeline.AddStage("inspect", async stage =>
        {
            int shown = 0;
            await foreach (TensorBatch batch in input.ReadCountedAsync(stage).ConfigureAwait(false))
            {
                using (batch)
                {
                    if (_json)
                    {
                        // JSON Lines: one batch per line, for jq and pandas.read_json(lines=True).
                        using var buffer = new MemoryStream();
                        using (var json = new Utf8JsonWriter(buffer))
                        {
                            BatchJson.Write(batch, run.Tokenizer!, json, _rows);
                        }
                        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
                    }
                    else
                    {
                        run.Task.Render(batch, run.Tokenizer!, output, _rows);
                        output.WriteLine();
                    }
                }
                if (++shown >= _batches)
                {
                    stage.StopPipeline();
                    break;
                }
            }
        });
    }
}
