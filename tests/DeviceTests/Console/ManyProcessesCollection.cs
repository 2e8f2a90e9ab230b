namespace StreamLoader.Device.Tests.Console;

/// <summary>
/// Console tests that start several processes at once — a Slurm job's tasks, a run's ranks side by side — and would
/// starve whatever ran beside them on a 2-core machine (a whole-job test beside them timed out in CI). They run by
/// themselves, after the collections that run in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ManyProcessesCollection
{
    /// <summary>The collection's name, for <c>[Collection(ManyProcessesCollection.Name)]</c>.</summary>
    public const string Name = "several processes at once";
}
