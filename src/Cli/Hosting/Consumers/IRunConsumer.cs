using StreamLoader.Cli.Reporting;
using StreamLoader.Core.Documents;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Cli.Hosting.Consumers;

/// <summary>
/// The device end of one kind of run (train, infer, bench, inspect), chosen from the command and the task's mode: it
/// adds its stages behind the transport, says where the provider starts, finishes what it owns when the pipeline
/// has run (a checkpoint, an output file) and fills its part of the summary. <see cref="PipelineRun"/> does the rest.
/// </summary>
internal interface IRunConsumer : IAsyncDisposable
{
    /// <summary>The summary's command ("train", "infer", "bench", "inspect").</summary>
    string Command { get; }

    /// <summary>
    /// True when a rank left nothing to read (every document went to other ranks, or came before the resume point) has
    /// simply nothing more to do, as an inference rank then finishes its part; false makes it an input error, as a
    /// training rank's is.
    /// </summary>
    bool EmptyShareIsDone => false;

    /// <summary>Why this run has nothing to do (its output was finished by an earlier run), or null: then no stage runs.</summary>
    string? NothingToDo => null;

    /// <summary>How the provider starts for this kind of run; <see cref="ProviderPlan.Default"/> leaves it to the settings.</summary>
    ProviderPlan PlanProvider(PipelineRun run) => ProviderPlan.Default;

    /// <summary>Adds the consumer's stages to <see cref="PipelineRun.Pipeline"/>, reading <see cref="PipelineRun.Reader"/>.</summary>
    void AddStages(PipelineRun run);

    /// <summary>What the progress line shows of the consumer: steps and loss, rows written.</summary>
    ProgressSample Sample(ProgressSample sample) => sample;

    /// <summary>Tokens of the batches the consumer took (trained on, predicted); null to count the stage's input.</summary>
    long? Tokens => null;

    /// <summary>
    /// After the pipeline has run, with its error (null when it completed): finishes what the consumer owns. Returns a
    /// new error to report (a checkpoint that could not be written), or null.
    /// </summary>
    Task<Exception?> FinishAsync(PipelineRun run, Exception? error, CancellationToken cancellationToken) => Task.FromResult<Exception?>(null);

    /// <summary>The summary with the consumer's part filled in.</summary>
    RunSummary Describe(PipelineRun run, RunSummary summary) => summary;

    ValueTask IAsyncDisposable.DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Where and how the provider's stream starts.</summary>
/// <param name="Resume">The position to continue from, or null for the settings' (a resumed checkpoint's, or the start).</param>
/// <param name="ShardBlock">Documents per block dealt to each rank (<see cref="DocumentStreamOptions.ShardBlock"/>).</param>
/// <param name="RecordDocuments">
/// For a consumer that writes a row per input document: the provider keeps a record of every document it emits, with
/// these metadata columns (<see cref="PipelineRun.Documents"/>); null for none.
/// </param>
internal sealed record ProviderPlan(ProviderPosition? Resume, int ShardBlock, IReadOnlyList<string>? RecordDocuments)
{
    /// <summary>The settings decide: one document per block, no records.</summary>
    public static ProviderPlan Default { get; } = new(null, 1, null);
}
