using System.Diagnostics;
using System.Text.Json;
using StreamLoader.Device.Runtime;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Device.Tests;

/// <summary>Loading TorchSharp against a libtorch other than the bundled one, and reporting exactly what does not fit.</summary>
[Collection(TorchCollection.Name)]
public sealed class NativeLoadingTests
{
    private static string BundledLibTorch => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");

    [Fact]
    public void MissingTorchSymbols_BundledLibTorch_IsEmpty()
    {
        string bridge = NativeLoadProbe.FindBridge() ?? throw new InvalidOperationException("libLibTorchSharp.so is not in the test output.");

        Assert.Empty(ElfSymbols.MissingTorchSymbols(bridge, BundledLibTorch));
        Assert.True(ElfSymbols.Read(bridge).Undefined.Count(ElfSymbols.IsTorchSymbol) > 1000);
    }

    /// <summary>
    /// Builds libraries with libtorch's sonames that export nothing torch needs: a worst-case version mismatch. Beside
    /// them, a link to a library that is not installed, as Debian's torch/lib has (libcaffe2_module_test_dynamic.so).
    /// </summary>
    private static string BuildStubLibTorch(TempFiles files)
    {
        string? gcc = new[] { "/usr/bin/gcc", "/usr/bin/cc" }.FirstOrDefault(File.Exists);
        Requirement.SkipIfMissing(gcc is null, "gcc is not installed; the stub-libtorch check needs it to build libraries.");
        string source = files.WriteText("stub.c", "int streamloader_stub(void) { return 0; }\n");
        foreach (string name in (string[])["libc10", "libtorch_cpu", "libtorch"])
        {
            using Process process = Process.Start(gcc!, ["-shared", "-fPIC", $"-Wl,-soname,{name}.so", "-o", files.Path($"{name}.so"), source])!;
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
        }
        File.CreateSymbolicLink(files.Path("libcaffe2_module_test_dynamic.so"), "/nonexistent/libcaffe2_module_test_dynamic.so.1.13");
        return files.Folder;
    }

    [SkippableFact]
    public void MissingTorchSymbols_IncompatibleLibTorch_ListsThem()
    {
        using var files = new TempFiles();
        string folder = BuildStubLibTorch(files);

        IReadOnlyList<string> missing = ElfSymbols.MissingTorchSymbols(NativeLoadProbe.FindBridge()!, folder);

        Assert.True(missing.Count > 1000, $"{missing.Count} missing");
        Assert.Contains("_ZN2at13globalContextEv", missing);
        Assert.All(missing, s => Assert.True(ElfSymbols.IsTorchSymbol(s)));
    }

    [SkippableFact]
    public async Task Doctor_IncompatibleLibTorch_RecordsTheLibraryAndSymbolThatFailed()
    {
        using var files = new TempFiles();
        string folder = BuildStubLibTorch(files);
        string cli = Path.Combine(AppContext.BaseDirectory, "streamloader.dll");
        string json = files.Path("doctor.json");

        // A fresh process: a bridge already loaded into this one cannot be unloaded and re-bound.
        using Process process = Process.Start(new ProcessStartInfo("dotnet", [cli, "doctor", "--libtorch", folder, "--json", json]) { RedirectStandardOutput = true })!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(4, process.ExitCode);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement bridge = report.RootElement.GetProperty("libraries").EnumerateArray().Single(l => l.GetProperty("library").GetString() == "libLibTorchSharp.so");
        Assert.False(bridge.GetProperty("loaded").GetBoolean());
        string symbol = bridge.GetProperty("missing_symbol").GetString()!;
        Assert.True(ElfSymbols.IsTorchSymbol(symbol), symbol);
        Assert.Contains(symbol, report.RootElement.GetProperty("missing_torch_symbols").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("missing symbol: " + symbol, output, StringComparison.Ordinal);
        Assert.Contains("libLibTorchSharp.so could not be loaded", report.RootElement.GetProperty("torch_error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_BundledLibTorch_LoadsAndRunsOnTheCpu()
    {
        using var files = new TempFiles();
        string json = files.Path("doctor.json");
        using Process process = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "streamloader.dll"), "doctor", "--json", json]) { RedirectStandardOutput = true })!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(0, process.ExitCode);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(report.RootElement.GetProperty("cpu_matmul").GetBoolean());
    }
}
