using StreamLoader.Cli.Hosting;
using StreamLoader.Core.Tasks;
using StreamLoader.Device.Training;

namespace StreamLoader.Device.Tests;

/// <summary>Each task's device side is found by its name, in its own assembly, and names a task that exists.</summary>
public sealed class DeviceTaskCatalogTests
{
    [Fact]
    public void EveryTrainingTask_HasOneDeviceSide_AndEveryDeviceSideNamesATask()
    {
        string[] training = [.. TaskPlugins.Catalog.Tasks.Where(t => t.Mode == TaskMode.Train).Select(t => t.Name).Order(StringComparer.Ordinal)];
        string[] devices = [.. TaskPlugins.Devices.TaskNames.Order(StringComparer.Ordinal)];
        Assert.Equal(["classify", "clm", "mlm", "multilabel", "span"], training);
        Assert.Equal(training, devices);
        Assert.All(devices, name => Assert.Equal("StreamLoader.Tasks.Device", TaskPlugins.Devices.Get(name).GetType().Assembly.GetName().Name));
    }

    [Fact]
    public void ATaskWithoutADeviceSide_IsRefusedNamingIt()
    {
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => TaskPlugins.Devices.Get("infer"));
        Assert.Contains("'infer' has no device side", error.Message, StringComparison.Ordinal);
    }
}
