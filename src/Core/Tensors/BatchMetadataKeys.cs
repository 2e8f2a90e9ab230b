namespace StreamLoader.Core.Tensors;

/// <summary>Metadata keys the services agree on.</summary>
public static class BatchMetadataKeys
{
    /// <summary>The document ordinal a resumed run should start from once this batch has been consumed.</summary>
    public const string ResumeOrdinal = "resume_ordinal";

    /// <summary>Tokens per row.</summary>
    public const string SequenceLength = "seq_len";
}
