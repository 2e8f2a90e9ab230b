namespace StreamLoader.Device.Tests;

/// <summary>
/// The tests that run TorchSharp in the test process. Its random generator is process-global, so they share one
/// collection and never run side by side; the console tests, which run the console in processes of their own, run
/// beside them (xunit.runner.json lets collections run in parallel).
/// </summary>
[CollectionDefinition(Name)]
public sealed class TorchCollection
{
    /// <summary>The collection's name, for <c>[Collection(TorchCollection.Name)]</c>.</summary>
    public const string Name = "TorchSharp in this process";
}
