using StreamLoader.Core.Pipeline;

namespace StreamLoader.Tests.Core;

public sealed class PipelineTests
{
    private sealed class Tracked : IDisposable
    {
        public static int Disposed;

        public void Dispose() => Interlocked.Increment(ref Disposed);
    }

    /// <summary>A three-stage pipeline (source, middle, sink) where <paramref name="failing"/> throws after a few items.</summary>
    private static (Pipeline Pipeline, List<int> Seen) Build(string? failing, int items = 10_000)
    {
        var pipeline = new Pipeline();
        PipelineChannel<int> first = pipeline.CreateChannel<int>("first", 4);
        PipelineChannel<int> second = pipeline.CreateChannel<int>("second", 4);
        var seen = new List<int>();
        pipeline.AddStage("source", async stage =>
        {
            StageWriter<int> output = stage.Writer(first);
            for (int i = 0; i < items; i++)
            {
                if (failing == "source" && i == 50)
                {
                    throw new InvalidDataException("source broke");
                }
                await output.WriteAsync(i);
            }
        });
        pipeline.AddStage("middle", async stage =>
        {
            StageWriter<int> output = stage.Writer(second);
            await foreach (int i in stage.Reader(first).ReadAllAsync())
            {
                if (failing == "middle" && i == 50)
                {
                    throw new InvalidDataException("middle broke");
                }
                await output.WriteAsync(i * 2);
            }
        });
        pipeline.AddStage("sink", async stage =>
        {
            await foreach (int i in stage.Reader(second).ReadAllAsync())
            {
                if (failing == "sink" && i == 100)
                {
                    throw new InvalidDataException("sink broke");
                }
                seen.Add(i);
            }
        });
        return (pipeline, seen);
    }

    [Fact]
    public async Task RunAsync_AllStagesSucceed_DeliversEverythingInOrderAndCounts()
    {
        (Pipeline pipeline, List<int> seen) = Build(failing: null);

        await pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => i * 2), seen);
        Assert.Equal(10_000, pipeline.Stages[0].ItemsOut);
        Assert.Equal(10_000, pipeline.Stages[1].ItemsIn);
        Assert.Equal(10_000, pipeline.Stages[2].ItemsIn);
        Assert.Equal(0, pipeline.DrainedOnShutdown);
    }

    [Theory]
    [InlineData("source")]
    [InlineData("middle")]
    [InlineData("sink")]
    public async Task RunAsync_AnyStageFaults_SurfacesThatFaultAndCancelsTheRest(string failing)
    {
        (Pipeline pipeline, _) = Build(failing, items: int.MaxValue);

        PipelineStageException error = await Assert.ThrowsAsync<PipelineStageException>(() => pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(failing, error.Stage);
        InvalidDataException inner = Assert.IsType<InvalidDataException>(error.InnerException);
        Assert.Equal($"{failing} broke", inner.Message);
    }

    [Fact]
    public async Task RunAsync_CallerCancels_StopsWithoutHanging()
    {
        (Pipeline pipeline, _) = Build(failing: null, items: int.MaxValue);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.RunAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task RunAsync_StageStopsPipeline_EndsCleanlyAndDisposesQueuedItems()
    {
        Tracked.Disposed = 0;
        var pipeline = new Pipeline();
        PipelineChannel<Tracked> channel = pipeline.CreateChannel<Tracked>("items", 16);
        int produced = 0;
        pipeline.AddStage("producer", async stage =>
        {
            StageWriter<Tracked> output = stage.Writer(channel);
            while (true)
            {
                await output.WriteAsync(new Tracked());
                produced++;
            }
        });
        pipeline.AddStage("consumer", async stage =>
        {
            int taken = 0;
            await foreach (Tracked item in stage.Reader(channel).ReadAllAsync())
            {
                item.Dispose();
                if (++taken == 100)
                {
                    stage.StopPipeline();
                    break;
                }
            }
        });

        await pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(pipeline.StoppedEarly);
        // Every item produced was either consumed or drained on shutdown: nothing leaked.
        Assert.Equal(produced, 100 + pipeline.DrainedOnShutdown);
        Assert.Equal(produced, Tracked.Disposed);
    }

    [Fact]
    public async Task StageCounters_SlowConsumer_ShowsProducerWaitingDownstream()
    {
        var pipeline = new Pipeline();
        PipelineChannel<int> channel = pipeline.CreateChannel<int>("items", 1);
        pipeline.AddStage("fast", async stage =>
        {
            StageWriter<int> output = stage.Writer(channel);
            for (int i = 0; i < 20; i++)
            {
                await output.WriteAsync(i);
            }
        });
        pipeline.AddStage("slow", async stage =>
        {
            await foreach (int _ in stage.Reader(channel).ReadAllAsync())
            {
                await Task.Delay(10);
            }
        });

        await pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(30));

        StageSnapshot fast = pipeline.Stages[0].Snapshot();
        StageSnapshot slow = pipeline.Stages[1].Snapshot();
        // The consumer's 19 delays after the first item (at least 10 ms each, longer on a busy machine) are the producer's
        // wait downstream; how long the consumer waited upstream depends on scheduling, so it is not compared.
        Assert.True(fast.WaitDownstreamSeconds > 0.1, $"fast stage waited {fast.WaitDownstreamSeconds} s downstream");
        Assert.Equal(20, fast.ItemsOut);
        Assert.Equal(20, slow.ItemsIn);
    }

    /// <summary>
    /// A stage stuck where it never looks at its token (a library looping on damaged input) does not keep a stopped run
    /// from ending: after the grace it is abandoned and the run fails naming it.
    /// </summary>
    [Fact]
    public async Task StuckStage_AfterAStop_IsAbandonedAndNamed()
    {
        using var release = new ManualResetEventSlim();
        var pipeline = new Pipeline { StopGrace = TimeSpan.FromSeconds(1) };
        pipeline.AddStage("stuck", _ =>
        {
            release.Wait(); // ignores the token, as a spinning decoder does
            return Task.CompletedTask;
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<PipelineStageException>(() => pipeline.RunAsync(stop.Token).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("stuck", error.Stage);
        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("did not stop within 1 s after the run was stopped, and was abandoned", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        release.Set();
    }
}
