using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>Inspect: decodes the first batches back to text, with the task's targets, on standard output.</summary>
internal sealed class InspectConsumer : IRunConsumer
{
    private readonly int _batches;
    private readonly int _rows;

    public InspectConsumer(int batches, int rows)
    {
        _batches = batches;
        _rows = rows;
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
                    run.Task.Render(batch, run.Tokenizer!, output, _rows);
                    output.WriteLine();
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
