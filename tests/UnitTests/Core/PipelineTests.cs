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
        Assert.True(fast.WaitDownstreamSeconds > 0.05, $"fast stage waited {fast.WaitDownstreamSeconds} s downstream");
        Assert.True(fast.WaitDownstreamSeconds > slow.WaitUpstreamSeconds);
        Assert.Equal(20, fast.ItemsOut);
        Assert.Equal(20, slow.ItemsIn);
    }
}
