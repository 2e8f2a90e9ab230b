namespace StreamLoader.Core.Storage;

/// <summary>
/// How every file a run publishes comes to be: written whole under a temporary name beside its final one
/// (<c>NAME.PID.tmp</c>), then renamed into place, so the final name holds the old file or the new one, never half of
/// one. Checkpoints (their manifests, run files and <c>latest</c> pointers), result chunks, finished outputs and their
/// markers all go this way.
/// </summary>
public static class StagedFile
{
    /// <summary>The temporary name beside <paramref name="final"/>: this process's own, so two writers never share one.</summary>
    public static string TempFor(string final) => $"{final}.{Environment.ProcessId}.tmp";

    /// <summary>Renames the whole <paramref name="temp"/> file over <paramref name="final"/>.</summary>
    public static void Publish(string temp, string final) => File.Move(temp, final, overwrite: true);

    /// <summary>Writes <paramref name="text"/> to <paramref name="final"/> by way of a temporary file.</summary>
    public static void WriteAllText(string final, string text)
    {
        string temp = TempFor(final);
        File.WriteAllText(temp, text);
        Publish(temp, final);
    }
}
