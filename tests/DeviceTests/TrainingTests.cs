using StreamLoader.Core.Documents;
using StreamLoader.Core.Pipeline;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Core.Transport;
using StreamLoader.Device.Models;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport.InProcess;
using TorchSharp;

namespace StreamLoader.Device.Tests;

[Collection(TorchCollection.Name)]
public sealed class TrainingTests
{
    private static readonly TestTokenizer s_tokenizer = new(200);

    private static TensorBatch MlmBatch(int seed, int batchSize = 8, int seqLen = 32)
    {
        IBatchBuilder builder = new MaskedLanguageModelingTask().CreateBatchBuilder(
            new BatchingContext(s_tokenizer, seqLen, batchSize, seed, TaskSettings.Parse(["mask_probability=0.3"])));
        var batches = new List<TensorBatch>();
        for (int i = 0; batches.Count == 0; i++)
        {
            var ids = new TokenBuffer();
            s_tokenizer.Encode(TestTokenizer.Words(30, i % 5), ids);
            using var doc = new TokenizedDocument(new Document(i.ToString(), "x"), ids);
            builder.Add(doc, batches);
        }
        for (int i = 1; i < batches.Count; i++)
        {
            batches[i].Dispose();
        }
        return batches[0];
    }

    private static ITaskModel MlmModel(string size = "micro") =>
        new ModelContext(VocabularyInfo.From(s_tokenizer), 32, size, TorchRuntime.SelectDevice("cpu"), 1, TaskSettings.Empty).Build(new MaskedLanguageModelingDevice());

    [Fact]
    public void TorchRuntime_LoadsOnThisMachineAndPicksCpuWithoutCuda()
    {
        TorchRuntime.EnsureLoaded();
        torch.Device device = TorchRuntime.SelectDevice("auto");
        Assert.Equal(torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, device.type);
        if (!torch.cuda.is_available())
        {
            DeviceUnavailableException error = Assert.Throws<DeviceUnavailableException>(() => TorchRuntime.SelectDevice("cuda"));
            Assert.Contains("CUDA is not available", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MlmLoss_FixedSmallBatch_Falls()
    {
        using ITaskModel model = MlmModel("tiny");
        var trainer = new Trainer(model, new TrainerOptions { LearningRate = 3e-3, WarmupSteps = 0, MaxSteps = 60 }, TorchRuntime.SelectDevice("cpu"));
        using TensorBatch batch = MlmBatch(seed: 3);

        var losses = new List<double>();
        for (int step = 0; step < 60; step++)
        {
            losses.Add(trainer.Step(batch)!.Value);
        }

        Assert.InRange(losses[0], Math.Log(200) - 1.5, Math.Log(200) + 1.5);
        Assert.True(losses.Skip(50).Average() < losses.Take(5).Average() * 0.5, $"loss went {losses[0]:0.000} -> {losses[^1]:0.000}");
    }

    [Fact]
    public void TrainerStep_NoMaskedPositions_IsCountedNotStepped()
    {
        using ITaskModel model = MlmModel();
        var trainer = new Trainer(model, new TrainerOptions(), TorchRuntime.SelectDevice("cpu"));
        IBatchBuilder builder = new MaskedLanguageModelingTask().CreateBatchBuilder(
            new BatchingContext(s_tokenizer, 32, 2, 1, TaskSettings.Parse(["mask_probability=0"])));
        var batches = new List<TensorBatch>();
        var ids = new TokenBuffer();
        s_tokenizer.Encode(TestTokenizer.Words(10), ids);
        using (var doc = new TokenizedDocument(new Document("a", "x"), ids))
        {
            builder.Add(doc, batches);
        }
        builder.Complete(batches);
        using TensorBatch batch = Assert.Single(batches);

        Assert.Null(trainer.Step(batch));
        Assert.Equal(0, trainer.Steps);
        Assert.Equal(1, trainer.BatchesWithoutTargets);
    }

    [Fact]
    public async Task Trainer_InPipeline_StopsAtMaxStepsAndSavesALoadableCheckpoint()
    {
        using var files = new TempFiles();
        string folder = files.Path("checkpoint");
        string checkpoint = Path.Combine(folder, TrainingState.ModelFile);
        using ITaskModel model = MlmModel();
        var trainer = new Trainer(model, new TrainerOptions { MaxSteps = 5, CheckpointFolder = () => folder }, TorchRuntime.SelectDevice("cpu"));
        (IBatchWriter writer, IBatchReader reader) = InProcessTransport.Create(2);
        var pipeline = new Pipeline();
        pipeline.AddStage("batches", async stage =>
        {
            for (int i = 0; ; i++)
            {
                await writer.WriteAsync(MlmBatch(i), stage.CancellationToken);
            }
        });
        pipeline.AddStage("device", stage => trainer.RunAsync(stage, reader));

        await pipeline.RunAsync().WaitAsync(TimeSpan.FromSeconds(120));
        await reader.DisposeAsync();

        Assert.True(pipeline.StoppedEarly);
        Assert.Equal(5, trainer.Steps);
        Assert.True(File.Exists(checkpoint));
        Assert.Equal(folder, trainer.SavedCheckpoint);
        Assert.Equal(5, TrainingState.Load(folder).Steps);

        // The checkpoint loads into a fresh model and gives the same loss on the same batch.
        using TensorBatch probe = MlmBatch(99);
        using ITaskModel fresh = MlmModel();
        fresh.Module.load(checkpoint);
        model.Module.eval();
        fresh.Module.eval();
        using (torch.NewDisposeScope())
        {
            double a = model.ComputeLoss(DeviceBatch.From(probe, TorchRuntime.SelectDevice("cpu")))!.item<float>();
            double b = fresh.ComputeLoss(DeviceBatch.From(probe, TorchRuntime.SelectDevice("cpu")))!.item<float>();
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Trainer_ResumedFromCheckpoint_ContinuesTheLossCurveExactly()
    {
        // The tiny model has dropout, so this also checks that the generator state is restored.
        using var files = new TempFiles();
        string folder = files.Path("checkpoint");
        var options = new TrainerOptions { LearningRate = 3e-3, WarmupSteps = 2, ScheduleSteps = 8 };
        torch.Device cpu = TorchRuntime.SelectDevice("cpu");

        List<double> straight;
        using (ITaskModel model = MlmModel("tiny"))
        {
            var trainer = new Trainer(model, options, cpu);
            straight = Enumerable.Range(0, 8).Select(i => StepOn(trainer, i)).ToList();
        }

        List<double> split;
        using (ITaskModel model = MlmModel("tiny"))
        {
            var trainer = new Trainer(model, options with { CheckpointFolder = () => folder }, cpu);
            split = Enumerable.Range(0, 4).Select(i => StepOn(trainer, i)).ToList();
            Assert.Equal(folder, trainer.SaveCheckpoint());
        }
        torch.random.manual_seed(12345); // whatever happens in between must not matter
        using (ITaskModel model = MlmModel("tiny"))
        {
            var trainer = new Trainer(model, options with { ResumeFrom = folder }, cpu);
            Assert.Equal(4, trainer.Steps);
            Assert.Equal(0, trainer.StepsThisRun);
            split.AddRange(Enumerable.Range(4, 4).Select(i => StepOn(trainer, i)));
        }

        Assert.Equal(straight, split);
    }

    [Fact]
    public void Trainer_NoStepTaken_WritesNoCheckpoint()
    {
        using var files = new TempFiles();
        using ITaskModel model = MlmModel();
        var trainer = new Trainer(model, new TrainerOptions { CheckpointFolder = () => files.Path("never") }, TorchRuntime.SelectDevice("cpu"));

        Assert.Null(trainer.SaveCheckpoint());
        Assert.False(Directory.Exists(files.Path("never")));
    }

    private static double StepOn(Trainer trainer, int seed)
    {
        using TensorBatch batch = MlmBatch(seed);
        return trainer.Step(batch)!.Value;
    }

    [Fact]
    public void TrainerOptions_Schedule_WarmsUpThenDecaysToZero()
    {
        var options = new TrainerOptions { WarmupSteps = 10, MaxSteps = 110 };
        Assert.Equal(0.1, options.RateFactor(0), 6);
        Assert.Equal(1.0, options.RateFactor(9), 6);
        Assert.Equal(1.0, options.RateFactor(10), 6);
        Assert.Equal(0.5, options.RateFactor(60), 6);
        Assert.Equal(0.0, options.RateFactor(110), 6);
        Assert.Equal(1.0, new TrainerOptions { WarmupSteps = 10 }.RateFactor(5000), 6);
    }

    [Fact]
    public void EncoderConfig_RejectsInconsistentShapes()
    {
        Assert.Throws<ArgumentException>(() => new EncoderConfig(100, 30, 1, 4, 64, 32, 0).Validate());
        Assert.Throws<ArgumentException>(() => EncoderConfig.Preset("huge", 100, 32));
    }
}
