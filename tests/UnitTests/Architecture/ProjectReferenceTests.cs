using System.Reflection;
using StreamLoader.Tasks.Mlm;

namespace StreamLoader.Tests.Architecture;

/// <summary>
/// The services' arrows, as docs/ARCHITECTURE.md draws them, checked on the built assemblies: the batch side of the
/// tasks needs Core alone (a loader, <c>bench</c> and these tests never load a model library), and the services that
/// feed the device never reference it.
/// </summary>
public sealed class ProjectReferenceTests
{
    [Theory]
    [InlineData("StreamLoader.Tasks", new[] { "StreamLoader.Core" })]
    [InlineData("StreamLoader.Provider", new[] { "StreamLoader.Core" })]
    [InlineData("StreamLoader.Batcher", new[] { "StreamLoader.Core" })]
    [InlineData("StreamLoader.Transport", new[] { "StreamLoader.Core" })]
    [InlineData("StreamLoader.Results", new[] { "StreamLoader.Core" })]
    public void Assembly_ReferencesOnlyTheStreamLoaderAssembliesItMay(string name, string[] allowed)
    {
        Assembly assembly = Assembly.Load(name);
        string[] referenced = [.. assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("StreamLoader.", StringComparison.Ordinal) || n.StartsWith("TorchSharp", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        Assert.Equal(allowed, referenced);
    }

    [Fact]
    public void UnitTests_NeverLoadTorchSharp()
    {
        _ = new MaskedLanguageModelingTask(); // the batch side is loaded, the device side is not
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name is "TorchSharp" or "StreamLoader.Device" or "StreamLoader.Tasks.Device");
    }
}
