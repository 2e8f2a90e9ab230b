using System.Runtime.InteropServices;
using TorchSharp;

namespace StreamLoader.Device.Runtime;

/// <summary>Loads TorchSharp's native backend once and picks the compute device, with errors that say why loading failed.</summary>
public static class TorchRuntime
{
    private static readonly object s_gate = new();
    private static bool s_loaded;

    /// <summary>
    /// Environment variable naming a folder with a libtorch (for example a PyTorch install's <c>torch/lib</c>) to use
    /// instead of the one shipped with the app.
    /// </summary>
    public const string LibTorchVariable = "STREAMLOADER_LIBTORCH";

    /// <summary>The intra-op threads libtorch chose when it was loaded, before any run set its own (<see cref="TorchThreads.Default"/>).</summary>
    public static int DefaultThreads { get; private set; }

    /// <summary>Where libtorch was loaded from, for reports.</summary>
    public static string LoadedFrom { get; private set; } = "not loaded";

    /// <summary>Loads the native backend. Throws <see cref="TorchLoadException"/> with TorchSharp's load trace on failure.</summary>
    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded)
            {
                return;
            }
            string? external = Environment.GetEnvironmentVariable(LibTorchVariable);
            if (!string.IsNullOrEmpty(external))
            {
                LoadExternal(external);
            }
            try
            {
                // Forces TorchSharp's static initializer, which loads LibTorchSharp and libtorch.
                using torch.Tensor probe = torch.zeros(1);
                DefaultThreads = torch.get_num_threads();
                LoadedFrom = string.IsNullOrEmpty(external) ? "bundled libtorch" : external;
            }
            catch (Exception ex)
            {
                throw new TorchLoadException(Describe(ex), ex);
            }
            s_loaded = true;
        }
    }

    private static void LoadExternal(string folder)
    {
        // Load the external libtorch first, in dependency order, so TorchSharp's bridge binds to it by soname.
        foreach (LibraryProbe probe in NativeLoadProbe.Probe(folder))
        {
            if (!probe.Loaded)
            {
                string detail = probe.MissingSymbol is not null ? $" (undefined symbol {probe.MissingSymbol})" : probe.MissingVersion is not null ? $" (missing version {probe.MissingVersion})" : string.Empty;
                throw new TorchLoadException($"{LibTorchVariable}={folder}: {probe.Library} could not be loaded from {probe.Path}{detail}: {probe.Error}. 'streamloader doctor --libtorch {folder}' lists every library.", null);
            }
        }
    }

    private static string Describe(Exception ex)
    {
        string message = ex.InnerException?.Message ?? ex.Message;
        string hint = RuntimeInformation.IsOSPlatform(OSPlatform.Linux)
            ? " On Debian 12, TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32; the build marks that requirement weak (build/TorchSharpGlibcxxFix.targets). Run 'ldd' on runtimes/linux-x64/native/libLibTorchSharp.so in the output folder to see the missing symbol."
            : string.Empty;
        return "TorchSharp could not load its native backend." + hint + Environment.NewLine + message;
    }

    /// <summary>Why CUDA could not be initialised, when it could not; null otherwise.</summary>
    public static string? CudaProblem { get; private set; }

    /// <summary>Picks the device: "auto" is CUDA when available, else CPU; "cpu" and "cuda[:N]" force one.</summary>
    public static torch.Device SelectDevice(string requested = "auto")
    {
        EnsureLoaded();
        string choice = requested.ToLowerInvariant();
        if (choice != "cpu" && torch.cuda.is_available())
        {
            try
            {
                // TorchSharp loads its CUDA backend lazily; do it now so a failure is reported here, with its trace.
                torch.InitializeDeviceType(DeviceType.CUDA);
            }
            catch (Exception ex)
            {
                CudaProblem = ex.Message;
                if (choice != "auto")
                {
                    throw new TorchLoadException($"CUDA is visible but TorchSharp could not initialise its CUDA backend: {ex.Message}", ex);
                }
                return torch.CPU;
            }
        }
        if (choice == "auto")
        {
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        }
        if (choice.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
        {
            throw new DeviceUnavailableException($"--device {requested} was asked for, but CUDA is not available to TorchSharp (the CPU-only libtorch is loaded, or no GPU is visible).");
        }
        return torch.device(choice);
    }
}

/// <summary>TorchSharp's native backend could not be loaded; the message carries the cause and TorchSharp's trace.</summary>
public sealed class TorchLoadException : Exception
{
    public TorchLoadException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public TorchLoadException()
        : base("TorchSharp could not load its native backend.")
    {
    }

    public TorchLoadException(string message)
        : base(message)
    {
    }
}

/// <summary>The device asked for (<c>--device cuda</c>) is not available to TorchSharp.</summary>
public sealed class DeviceUnavailableException : Exception
{
    public DeviceUnavailableException(string message)
        : base(message)
    {
    }

    public DeviceUnavailableException()
        : base("The device asked for is not available.")
    {
    }

    public DeviceUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
