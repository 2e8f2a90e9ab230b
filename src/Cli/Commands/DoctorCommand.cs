using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using StreamLoader.Device.Runtime;
using TorchSharp;

namespace StreamLoader.Cli.Commands;

/// <summary><c>streamloader doctor</c>: checks that TorchSharp loads here, against which libtorch, and whether CUDA works.</summary>
internal static class DoctorCommand
{
    private static readonly Option<string?> LibTorch = new("--libtorch") { Description = $"A folder with libtorch to try (a PyTorch install's torch/lib); default: ${TorchRuntime.LibTorchVariable} or the bundled one.", HelpName = "folder" };
    private static readonly Option<string?> Json = new("--json") { Description = "Write the findings as JSON here.", HelpName = "path" };

    public static Command Create()
    {
        var command = new Command("doctor", "Check the device side: load libtorch and TorchSharp's native bridge library by library, report any missing symbol, then try the CPU and CUDA.");
        command.Options.Add(LibTorch);
        command.Options.Add(Json);
        command.SetAction(result =>
        {
            string? folder = result.GetValue(LibTorch) ?? Environment.GetEnvironmentVariable(TorchRuntime.LibTorchVariable);
            var report = new DoctorReport { LibTorchFolder = folder, Libraries = NativeLoadProbe.Probe(folder) };
            foreach (LibraryProbe probe in report.Libraries)
            {
                Console.WriteLine($"{(probe.Loaded ? "ok  " : "FAIL")} {probe.Library,-22} {probe.Path}");
                if (!probe.Loaded)
                {
                    Console.WriteLine($"     {probe.Error}");
                    if (probe.MissingSymbol is not null)
                    {
                        Console.WriteLine($"     missing symbol: {probe.MissingSymbol}");
                    }
                    if (probe.MissingVersion is not null)
                    {
                        Console.WriteLine($"     missing version: {probe.MissingVersion}");
                    }
                }
            }
            if (folder is not null && Directory.Exists(folder) && NativeLoadProbe.FindBridge() is { } bridge)
            {
                report.MissingTorchSymbols = ElfSymbols.MissingTorchSymbols(bridge, folder);
                Console.WriteLine(report.MissingTorchSymbols.Count == 0
                    ? $"every torch/c10/ATen symbol TorchSharp's bridge needs is exported by {folder}"
                    : $"{report.MissingTorchSymbols.Count} torch/c10/ATen symbols TorchSharp's bridge needs are not exported by {folder}; first: {string.Join(", ", report.MissingTorchSymbols.Take(5))}");
            }
            try
            {
                if (folder is not null)
                {
                    Environment.SetEnvironmentVariable(TorchRuntime.LibTorchVariable, folder);
                }
                TorchRuntime.EnsureLoaded();
                using (torch.NewDisposeScope())
                {
                    report.CpuMatmul = torch.ones(64, 64).matmul(torch.ones(64, 64)).sum().item<float>() == 64 * 64 * 64;
                    report.CudaAvailable = torch.cuda.is_available();
                    if (report.CudaAvailable)
                    {
                        report.CudaDevices = torch.cuda.device_count();
                        report.CudaMatmul = torch.ones(64, 64, device: torch.CUDA).matmul(torch.ones(64, 64, device: torch.CUDA)).sum().cpu().item<float>() == 64 * 64 * 64;
                    }
                }
                report.LoadedFrom = TorchRuntime.LoadedFrom;
                Console.WriteLine($"TorchSharp loaded ({TorchRuntime.LoadedFrom}); CPU matmul {(report.CpuMatmul ? "ok" : "WRONG")}; CUDA {(report.CudaAvailable ? $"available, {report.CudaDevices} device(s), matmul {(report.CudaMatmul == true ? "ok" : "WRONG")}" : "not available")}");
            }
            catch (Exception ex)
            {
                report.TorchError = ex.Message;
                Console.WriteLine("TorchSharp did not load: " + ex.Message);
            }
            if (result.GetValue(Json) is { } path)
            {
                File.WriteAllText(path, JsonSerializer.Serialize(report, DoctorJsonContext.Default.DoctorReport));
            }
            return report.TorchError is null ? ExitCodes.Success : ExitCodes.DeviceError;
        });
        return command;
    }
}

/// <summary>What <c>streamloader doctor</c> found.</summary>
public sealed class DoctorReport
{
    public string? LibTorchFolder { get; set; }

    public IReadOnlyList<LibraryProbe> Libraries { get; set; } = [];

    public string? LoadedFrom { get; set; }

    /// <summary>Symbols the bridge needs that the libtorch folder does not export (a version mismatch's full extent).</summary>
    public IReadOnlyList<string> MissingTorchSymbols { get; set; } = [];

    public string? TorchError { get; set; }

    public bool CpuMatmul { get; set; }

    public bool CudaAvailable { get; set; }

    public int CudaDevices { get; set; }

    public bool? CudaMatmul { get; set; }
}

/// <summary>Source-generated JSON for doctor --json reports (snake_case, no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(DoctorReport))]
internal sealed partial class DoctorJsonContext : JsonSerializerContext
{
}
