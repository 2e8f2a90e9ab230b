namespace StreamLoader.Core.Diagnostics;

/// <summary>Questions about other processes of this machine, as the owners recorded in lock and claim files name them.</summary>
public static class Processes
{
    /// <summary>True when a process with id <paramref name="pid"/> runs on this machine now (this process included).</summary>
    public static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
