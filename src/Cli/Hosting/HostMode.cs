namespace StreamLoader.Cli.Hosting;

/// <summary>What the device end of the pipeline does.</summary>
public enum HostMode
{
    /// <summary>Train the task's model.</summary>
    Train,

    /// <summary>Consume and discard batches: the pipeline's speed without a model.</summary>
    Bench,

    /// <summary>Decode the first batches back to text.</summary>
    Inspect,

    /// <summary>Run a trained classifier over the source and write a row per document (<c>streamloader infer</c>).</summary>
    Infer,
}
