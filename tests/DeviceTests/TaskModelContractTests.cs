using StreamLoader.Batcher.Tokenizers;
using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Documents;
using StreamLoader.Core.Tasks;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;
using StreamLoader.Device.Runtime;
using StreamLoader.Device.Training;
using StreamLoader.Tasks.Classify;
using StreamLoader.Tasks.Clm;
using StreamLoader.Tasks.Mlm;
using StreamLoader.Tasks.Span;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;

namespace StreamLoader.Device.Tests;

/// <summary>
/// The device side of the task contract, run against every task's model: on a fixed batch the loss is finite and
/// falls, a step leaks no tensor, and a checkpoint round-trips. A new task gets these by adding one subclass.
/// </summary>
public abstract class TaskModelContractTests
{
    protected const int SequenceLength = 32;

    protected abstract ITrainingTask CreateTask();

    protected virtual TaskSettings Settings => TaskSettings.Empty;

    protected virtual LabelSet? Labels => null;

    protected virtual string ModelSize => "micro";

    protected virtual Document MakeDocument(int index, string text) => new(index.ToString(System.Globalization.CultureInfo.InvariantCulture), text) { Ordinal = index };

    private ITextTokenizer Tokenizer => AddedTokensTokenizer.Wrap(new TestTokenizer(200), CreateTask().AddedSpecialTokens);

    /// <summary>The first full batch the task's builder makes from a small corpus.</summary>
    protected TensorBatch FixedBatch()
    {
        ITextTokenizer tokenizer = Tokenizer;
        IBatchBuilder builder = CreateTask().CreateBatchBuilder(new BatchingContext(tokenizer, SequenceLength, 8, 1, Settings) { Labels = Labels });
        var batches = new List<TensorBatch>();
        for (int i = 0; batches.Count == 0 && i < 1000; i++)
        {
            var ids = new TokenBuffer();
            string text = TestTokenizer.Words(6 + (i % 25), i % 7);
            tokenizer.Encode(text, ids);
            using var doc = new TokenizedDocument(MakeDocument(i, text), ids);
            builder.Add(doc, batches);
        }
        for (int i = 1; i < batches.Count; i++)
        {
            batches[i].Dispose();
        }
        return Assert.Single(batches.Take(1));
    }

    protected ITaskModel Model(int seed = 1) =>
        new ModelContext(VocabularyInfo.From(Tokenizer), SequenceLength, ModelSize, TorchRuntime.SelectDevice("cpu"), seed, Settings) { Labels = Labels }
            .Build(TaskPlugins.Devices.Get(CreateTask().Name));

    [Fact]
    public void Loss_OnAFixedBatch_IsFiniteAndFalls()
    {
        using ITaskModel model = Model();
        using var trainer = new Trainer(model, new TrainerOptions { LearningRate = 3e-3, WarmupSteps = 0 }, TorchRuntime.SelectDevice("cpu"));
        using TensorBatch batch = FixedBatch();

        var losses = new List<double>();
        for (int step = 0; step < 40; step++)
        {
            double? loss = trainer.Step(batch);
            Assert.NotNull(loss);
            Assert.True(double.IsFinite(loss.Value), $"step {step}: loss {loss}");
            losses.Add(loss.Value);
        }

        Assert.True(losses.Skip(35).Average() < losses.Take(3).Average() * 0.7, $"loss went {losses[0]:0.000} -> {losses[^1]:0.000}");
    }

    [Fact]
    public void Step_ManyTimes_LeaksNoTensors()
    {
        using ITaskModel model = Model();
        using var trainer = new Trainer(model, new TrainerOptions { WarmupSteps = 2 }, TorchRuntime.SelectDevice("cpu"));
        using TensorBatch batch = FixedBatch();
        trainer.Step(batch); // optimizer state is created on the first step
        trainer.Step(batch);

        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++)
        {
            trainer.Step(batch);
        }

        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    /// <summary>
    /// A tensor registered under two names (a tied matrix held as a field of a second module) is saved twice and stepped
    /// twice per optimizer step. Bumping each parameter in turn must change no other one.
    /// </summary>
    [Fact]
    public void EveryParameter_IsRegisteredOnce()
    {
        using ITaskModel model = Model();
        var parameters = model.Module.named_parameters().ToList();
        using (torch.no_grad())
        {
            double[] before = parameters.Select(p => p.parameter.sum().item<float>() * 1.0).ToArray();
            for (int i = 0; i < parameters.Count; i++)
            {
                parameters[i].parameter.add_(1);
                for (int j = 0; j < parameters.Count; j++)
                {
                    if (j != i)
                    {
                        // A shared tensor's sum moves by its element count; a float sum's rounding moves by far less.
                        double moved = Math.Abs(parameters[j].parameter.sum().item<float>() - before[j]);
                        Assert.True(moved < 0.5 * parameters[j].parameter.numel(), $"{parameters[i].name} and {parameters[j].name} are one tensor registered twice");
                    }
                }
                parameters[i].parameter.sub_(1);
            }
        }
    }

    [Fact]
    public void Checkpoint_RoundTrips_IntoAModelBuiltFromAnotherSeed()
    {
        using var files = new TempFiles();
        using TensorBatch batch = FixedBatch();
        using ITaskModel model = Model(seed: 1);
        using (var trainer = new Trainer(model, new TrainerOptions { CheckpointFolder = () => files.Path("ckpt") }, TorchRuntime.SelectDevice("cpu")))
        {
            trainer.Step(batch);
            Assert.NotNull(trainer.SaveCheckpoint());
        }
        using ITaskModel fresh = Model(seed: 2);
        fresh.Module.load(Path.Combine(files.Path("ckpt"), TrainingState.ModelFile));
        model.Module.eval();
        fresh.Module.eval();
        using (torch.NewDisposeScope())
        {
            double a = model.ComputeLoss(DeviceBatch.From(batch, TorchRuntime.SelectDevice("cpu")))!.item<float>();
            double b = fresh.ComputeLoss(DeviceBatch.From(batch, TorchRuntime.SelectDevice("cpu")))!.item<float>();
            Assert.Equal(a, b);
        }
    }
}

[Collection(TorchCollection.Name)]
public sealed class MlmModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new MaskedLanguageModelingTask();

    protected override TaskSettings Settings => TaskSettings.Parse(["mask_probability=0.3"]);
}

[Collection(TorchCollection.Name)]
public sealed class PackedMlmModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new MaskedLanguageModelingTask();

    protected override TaskSettings Settings => TaskSettings.Parse(["mask_probability=0.3", "pack=true"]);
}

[Collection(TorchCollection.Name)]
public sealed class ClmModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new CausalLanguageModelingTask();
}

[Collection(TorchCollection.Name)]
public sealed class SpanModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new SpanCorruptionTask();
}

[Collection(TorchCollection.Name)]
public sealed class ClassifyModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new ClassificationTask();

    protected override LabelSet? Labels => new(["a", "b", "c"]);

    protected override Document MakeDocument(int index, string text) => base.MakeDocument(index, text) with { Labels = [Labels!.Names[index % 7 % 3]] };
}

[Collection(TorchCollection.Name)]
public sealed class BagClassifyModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new ClassificationTask();

    protected override string ModelSize => "bag";

    protected override LabelSet? Labels => new(["a", "b", "c"]);

    protected override Document MakeDocument(int index, string text) => base.MakeDocument(index, text) with { Labels = [Labels!.Names[index % 7 % 3]] };
}

[Collection(TorchCollection.Name)]
public sealed class MultiLabelModelContractTests : TaskModelContractTests
{
    protected override ITrainingTask CreateTask() => new MultiLabelClassificationTask();

    protected override LabelSet? Labels => new(["a", "b", "c", "d"]);

    protected override Document MakeDocument(int index, string text) => base.MakeDocument(index, text) with { Labels = index % 7 % 2 == 0 ? ["a", "c"] : ["b"] };
}

[Collection(TorchCollection.Name)]
public sealed class InitFromTests
{
    [Fact]
    public void InitFrom_AnMlmCheckpoint_LoadsTheClassifiersEncoder_AndRefusesAModelWithNothingInCommon()
    {
        using var files = new TempFiles();
        var tokenizer = new TestTokenizer(200);
        torch.Device cpu = TorchRuntime.SelectDevice("cpu");
        var vocabulary = VocabularyInfo.From(tokenizer);
        using (ITaskModel mlm = new ModelContext(vocabulary, 32, "micro", cpu, 1, TaskSettings.Empty).Build(new MaskedLanguageModelingDevice()))
        {
            mlm.Module.save(Path.Combine(Directory.CreateDirectory(files.Path("pre")).FullName, TrainingState.ModelFile));
        }

        using ITaskModel classifier = new ModelContext(vocabulary, 32, "micro", cpu, 2, TaskSettings.Empty) { Labels = new LabelSet(["a", "b"]) }.Build(new ClassificationDevice());
        using var trainer = new Trainer(classifier, new TrainerOptions { InitFrom = files.Path("pre") }, cpu);

        (int loaded, int total) = trainer.InitializedParameters!.Value;
        int encoder = classifier.Module.state_dict().Keys.Count(k => k.StartsWith("encoder.", StringComparison.Ordinal));
        Assert.True(encoder > 10);
        Assert.Equal(encoder, loaded);
        Assert.True(total > loaded, "the head starts fresh");

        using ITaskModel bag = new ModelContext(vocabulary, 32, "bag", cpu, 2, TaskSettings.Empty) { Labels = new LabelSet(["a", "b"]) }.Build(new ClassificationDevice());
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => new Trainer(bag, new TrainerOptions { InitFrom = files.Path("pre") }, cpu));
        Assert.Contains("--init-from", error.Message, StringComparison.Ordinal);
    }
}
