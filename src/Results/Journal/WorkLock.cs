using System.Globalization;
using System.Text;
using StreamLoader.Core.Diagnostics;

namespace StreamLoader.Results.Journal;

/// <summary>
/// One run at a time on an output: an operating-system lock on a file beside its work folder (<c>WORK.lock</c>, holding
/// the owner's process id), released when the run ends however it ends. The file itself stays beside the output. A second run on the same output is told which
/// process holds it instead of both writing chunks into one folder.
/// </summary>
public sealed class WorkLock : IDisposable
{
    private readonly FileStream _file;
    private readonly string _path;

    private WorkLock(FileStream file, string path)
    {
        _file = file;
        _path = path;
    }

    /// <summary>The lock file's path.</summary>
    public string Path => _path;

    /// <summary>Takes the lock of <paramref name="workFolder"/>; throws <see cref="SettingsConflictException"/> naming the holder when another process has it.</summary>
    public static WorkLock Acquire(string workFolder)
    {
        string path = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(workFolder)) + ".lock";
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            // macOS has no record locks through FileStream: there the lock file only names the last run.
            if (!OperatingSystem.IsMacOS())
            {
                file.Lock(0, 0);
            }
        }
        catch (IOException ex)
        {
            string holder;
            using (var reader = new StreamReader(file, Encoding.ASCII))
            {
                holder = reader.ReadToEnd().Trim();
            }
            if (!int.TryParse(holder, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || !Processes.IsRunning(pid))
            {
                // Not a live run's lock: a file system without record locks (some network mounts), say.
                throw new IOException($"{path}: could not lock this output's work ({ex.Message}); put --output on a local disk.", ex);
            }
            throw new SettingsConflictException($"{path}: another run (process {pid}) is writing this output now. Wait for it to end, or choose another --output.");
        }
        file.SetLength(0);
        file.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
        file.Flush();
        return new WorkLock(file, path);
    }

    /// <summary>Releases the lock. The file stays: removing it would let a run that opened it before the removal lock a file no other run can see.</summary>
    public void Dispose() => _file.Dispose();
}
