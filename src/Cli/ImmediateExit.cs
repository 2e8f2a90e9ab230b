using System.Runtime.InteropServices;

namespace StreamLoader.Cli;

/// <summary>
/// Ends the process at once, as a second Ctrl+C asks: no managed shutdown, which would run while a TorchSharp step is
/// still in native code on another thread and could crash (exit 139) instead of exiting with the code given.
/// </summary>
internal static class ImmediateExit
{
    /// <summary>Exits with <paramref name="code"/> now (POSIX <c>_exit</c>); elsewhere, the runtime's exit.</summary>
    public static void Now(int code)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            PosixExit(code);
        }
        Environment.Exit(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void PosixExit(int status);
}
