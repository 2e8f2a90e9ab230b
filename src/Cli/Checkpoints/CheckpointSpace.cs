using System.Globalization;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Device.Training;

namespace StreamLoader.Cli.Checkpoints;

/// <summary>
/// Whether a checkpoint can be written where the run will save it, asked before the first step: a run that cannot
/// save its work is told so at once, not after hours of training.
/// </summary>
internal static class CheckpointSpace
{
    /// <summary>Bytes a checkpoint of <paramref name="model"/> takes: its parameters, and AdamW's two moments for each, in float32, and a little more.</summary>
    public static long Estimate(ITaskModel model) => (3 * 4 * Hosting.Consumers.DeviceModels.ParameterCount(model)) + (1 << 20);

    /// <summary>
    /// Writes and removes a probe file where <paramref name="folder"/> will be (in it, or in the folder that will hold
    /// it), and checks that its disk has <paramref name="bytes"/> free; throws a <see cref="CheckpointWriteException"/>
    /// saying which, and that nothing was trained.
    /// </summary>
    public static void Probe(string folder, long bytes)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string where = Directory.Exists(full) ? full : Path.GetDirectoryName(full) ?? full;
        string probe = Path.Combine(where, $".streamloader-probe-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(where);
            using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.DeleteOnClose))
            {
                stream.Write(new byte[4096]);
                stream.Flush(flushToDisk: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointWriteException($"{full}: the checkpoint cannot be written there ({ex.Message}); nothing was trained. Give --checkpoint a folder this process can write (or --checkpoint none).", ex);
        }
        long free = new DriveInfo(where).AvailableFreeSpace;
        if (free < bytes)
        {
            throw new CheckpointWriteException(string.Create(CultureInfo.InvariantCulture,
                $"{full}: {free / 1e6:0.#} MB free where the checkpoint goes, and one of this model takes about {bytes / 1e6:0.#} MB; nothing was trained. Free some space, or give --checkpoint another disk."));
        }
    }
}
