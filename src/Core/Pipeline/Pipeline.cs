using System.Runtime.ExceptionServices;

namespace StreamLoader.Core.Pipeline;

/// <summary>Runs named stages joined by bounded channels, with first-fault propagation, clean cancellation and draining.</summary>
/// <remarks>
/// <para>Each stage runs on the thread pool. When a stage ends, every channel it opened for writing is completed, with
/// its exception if it failed, so the stage after sees the end of its input.</para>
/// <para>The first stage to fail (other than by cancellation) cancels every other stage; <see cref="RunAsync"/> then
/// throws a <see cref="PipelineStageException"/> naming it. A stage may also end the run early and cleanly with
/// <see cref="StageContext.StopPipeline"/> (a step limit was reached). At the end, items still queued are drained
/// and disposed, so pooled buffers are returned.</para>
/// </remarks>
public sealed class Pipeline
{
    private readonly List<Stage> _stages = [];
    private readonly List<IPipelineChannel> _channels = [];
    private int _running;

    /// <summary>The counters of every stage, in the order they were added.</summary>
    public IReadOnlyList<StageCounters> Stages => _stages.Select(s => s.Counters).ToArray();

    /// <summary>Items left in channels and disposed when the last run ended (non-zero only after a fault or a stop).</summary>
    public int DrainedOnShutdown { get; private set; }

    /// <summary>True when a stage ended the last run early with <see cref="StageContext.StopPipeline"/>.</summary>
    public bool StoppedEarly { get; private set; }

    /// <summary>Creates a bounded channel the pipeline owns.</summary>
    public PipelineChannel<T> CreateChannel<T>(string name, int capacity)
    {
        var channel = new PipelineChannel<T>(name, capacity);
        _channels.Add(channel);
        return channel;
    }

    /// <summary>Adds a stage. The body receives a context with its counters, cancellation and channel access.</summary>
    public StageCounters AddStage(string name, Func<StageContext, Task> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(body);
        var counters = new StageCounters(name);
        _stages.Add(new Stage(name, counters, body));
        return counters;
    }

    /// <summary>Runs every stage to completion. Throws the first stage fault, or <see cref="OperationCanceledException"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("A pipeline runs once.");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var state = new RunState(cts);
        var tasks = new List<Task>(_stages.Count);
        foreach (Stage stage in _stages)
        {
            tasks.Add(RunStageAsync(stage, state));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);

        int drained = 0;
        foreach (IPipelineChannel channel in _channels)
        {
            channel.Complete(null);
            drained += channel.DrainAndDispose();
        }
        DrainedOnShutdown = drained;
        StoppedEarly = state.Stopped;

        if (state.FirstFault is { } fault)
        {
            throw new PipelineStageException(fault.Stage, fault.Error);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// How long a stage may take to stop once the run is stopped (a signal, another stage's fault) before it is
    /// abandoned as stuck and the run fails naming it: a stage blocked where it does not look at its token (a library
    /// looping on damaged input) must not keep the process from exiting.
    /// </summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(30);

    private async Task RunStageAsync(Stage stage, RunState state)
    {
        var context = new StageContext(stage.Name, stage.Counters, state);
        Exception? error = null;
        stage.Counters.Start();
        try
        {
            Task body = Task.Run(() => stage.Body(context), state.Cancellation.Token);
            await WaitOrAbandonAsync(body, stage.Name, state.Cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex;
            bool cancelledByPipeline = ex is OperationCanceledException && state.Cancellation.IsCancellationRequested;
            if (!cancelledByPipeline)
            {
                state.RecordFault(stage.Name, ex);
            }
            state.Cancel();
        }
        finally
        {
            stage.Counters.Stop();
            foreach (IPipelineChannel channel in context.OwnedChannels)
            {
                channel.Complete(error);
            }
        }
    }

    /// <summary>Waits for a stage's body; once the run is stopped, for at most <see cref="StopGrace"/> more.</summary>
    private async Task WaitOrAbandonAsync(Task body, string name, CancellationToken stopped)
    {
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (stopped.Register(() => stopping.TrySetResult()))
        {
            if (await Task.WhenAny(body, stopping.Task).ConfigureAwait(false) == body)
            {
                await body.ConfigureAwait(false);
                return;
            }
        }
        if (await Task.WhenAny(body, Task.Delay(StopGrace, CancellationToken.None)).ConfigureAwait(false) == body)
        {
            await body.ConfigureAwait(false);
            return;
        }
        // Abandoned: whatever it ends with later is observed, not left to crash the process.
        _ = body.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        throw new TimeoutException($"stage '{name}' did not stop within {StopGrace.TotalSeconds:0} s after the run was stopped, and was abandoned: it is stuck where it does not look for a stop (a library looping on damaged input, a blocking call).");
    }

    private sealed record Stage(string Name, StageCounters Counters, Func<StageContext, Task> Body);

    internal sealed class RunState
    {
        private Fault? _firstFault;

        public RunState(CancellationTokenSource cancellation)
        {
            Cancellation = cancellation;
        }

        public CancellationTokenSource Cancellation { get; }

        public Fault? FirstFault => Volatile.Read(ref _firstFault);

        public bool Stopped { get; private set; }

        public void RecordFault(string stage, Exception error) => Interlocked.CompareExchange(ref _firstFault, new Fault(stage, error), null);

        public void Stop()
        {
            Stopped = true;
            Cancel();
        }

        public void Cancel()
        {
            try
            {
                Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    internal sealed record Fault(string Stage, Exception Error);
}

/// <summary>What a running stage gets: its name, counters, the run's cancellation token and access to channels.</summary>
public sealed class StageContext
{
    private readonly Pipeline.RunState _state;
    private readonly List<IPipelineChannel> _owned = [];

    internal StageContext(string name, StageCounters counters, Pipeline.RunState state)
    {
        Name = name;
        Counters = counters;
        _state = state;
    }

    /// <summary>The stage's name.</summary>
    public string Name { get; }

    /// <summary>The stage's counters.</summary>
    public StageCounters Counters { get; }

    /// <summary>Cancelled when any stage fails, a stage stops the run, or the caller cancels.</summary>
    public CancellationToken CancellationToken => _state.Cancellation.Token;

    internal IReadOnlyList<IPipelineChannel> OwnedChannels => _owned;

    /// <summary>Reads from a channel, counting waits against this stage.</summary>
    public StageReader<T> Reader<T>(PipelineChannel<T> channel) => new(channel.Reader, Counters, CancellationToken);

    /// <summary>Writes to a channel; the pipeline completes it when this stage ends.</summary>
    public StageWriter<T> Writer<T>(PipelineChannel<T> channel)
    {
        _owned.Add(channel);
        return new StageWriter<T>(channel.Writer, Counters, CancellationToken);
    }

    /// <summary>Ends the whole run early and cleanly (not a fault): other stages are cancelled and the run returns.</summary>
    public void StopPipeline() => _state.Stop();

    /// <summary>
    /// What to tell a downstream process about an error this stage saw: the first stage fault that cancelled the run
    /// (the provider's "file, offset: truncated") rather than this stage's own cancellation.
    /// </summary>
    public Exception Cause(Exception error) =>
        error is OperationCanceledException && _state.FirstFault is { } fault ? new PipelineStageException(fault.Stage, fault.Error) : error;
}

/// <summary>A pipeline stage failed; <see cref="Exception.InnerException"/> is what it threw.</summary>
public sealed class PipelineStageException : Exception
{
    public PipelineStageException(string stage, Exception inner)
        : base($"Stage '{stage}' failed: {inner.Message}", inner)
    {
        Stage = stage;
    }

    public PipelineStageException()
        : base("A pipeline stage failed.")
    {
        Stage = "(unknown)";
    }

    public PipelineStageException(string message)
        : base(message)
    {
        Stage = "(unknown)";
    }

    /// <summary>The name of the stage that failed first.</summary>
    public string Stage { get; }

    /// <summary>Rethrows the stage's own exception with its original stack.</summary>
    public void ThrowInner() => ExceptionDispatchInfo.Capture(InnerException!).Throw();
}
