using System.IO.MemoryMappedFiles;
using System.Text;

namespace StreamLoader.Device.Runtime;

/// <summary>
/// Reads the dynamic symbol table of an ELF64 shared library (memory-mapped; libtorch_cpu.so is hundreds of MB), to
/// compare what TorchSharp's bridge needs from libtorch with what a given libtorch exports.
/// </summary>
public static class ElfSymbols
{
    private const uint DynamicSymbolTable = 11; // SHT_DYNSYM

    /// <summary>The library's undefined strong (required) and defined (exported) dynamic symbols. Weak undefined symbols may be absent, so they are not listed.</summary>
    public static (HashSet<string> Undefined, HashSet<string> Defined) Read(string path)
    {
        var undefined = new HashSet<string>(StringComparer.Ordinal);
        var defined = new HashSet<string>(StringComparer.Ordinal);
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        if (view.ReadUInt32(0) != 0x464C457F || view.ReadByte(4) != 2 || view.ReadByte(5) != 1)
        {
            throw new InvalidDataException($"{path}: not a little-endian ELF64 file.");
        }
        long sectionTable = view.ReadInt64(0x28);
        int sectionSize = view.ReadUInt16(0x3A);
        int sections = view.ReadUInt16(0x3C);
        for (int s = 0; s < sections; s++)
        {
            long header = sectionTable + ((long)s * sectionSize);
            if (view.ReadUInt32(header + 4) != DynamicSymbolTable)
            {
                continue;
            }
            long offset = view.ReadInt64(header + 0x18);
            long size = view.ReadInt64(header + 0x20);
            int link = view.ReadInt32(header + 0x28);
            long entry = view.ReadInt64(header + 0x38);
            long strings = view.ReadInt64(sectionTable + ((long)link * sectionSize) + 0x18);
            for (long at = offset + entry; at < offset + size; at += entry)
            {
                uint name = view.ReadUInt32(at);
                byte info = view.ReadByte(at + 4);
                ushort sectionIndex = view.ReadUInt16(at + 6);
                int binding = info >> 4;
                if (name == 0 || (binding != 1 && binding != 2))
                {
                    continue; // only GLOBAL and WEAK symbols link across libraries
                }
                if (sectionIndex == 0 && binding == 2)
                {
                    continue; // weak undefined: optional at load time
                }
                string symbol = ReadString(view, strings + name);
                (sectionIndex == 0 ? undefined : defined).Add(symbol);
            }
        }
        return (undefined, defined);
    }

    /// <summary>
    /// The torch, ATen and c10 symbols TorchSharp's bridge needs that none of the libraries in
    /// <paramref name="libtorchFolder"/> exports: the full list of what a libtorch version mismatch breaks.
    /// </summary>
    public static IReadOnlyList<string> MissingTorchSymbols(string bridgePath, string libtorchFolder)
    {
        HashSet<string> needed = Read(bridgePath).Undefined;
        var exported = new HashSet<string>(StringComparer.Ordinal);
        foreach (string library in Directory.GetFiles(libtorchFolder, "*.so*"))
        {
            try
            {
                exported.UnionWith(Read(library).Defined);
            }
            catch (InvalidDataException)
            {
                // Not an ELF64 library (a linker script, say): it exports nothing we can read.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A link to a library that is not installed (Debian's torch/lib has some) or one we may not read:
                // it exports nothing to the bridge either.
            }
        }
        return needed.Where(s => !exported.Contains(s) && IsTorchSymbol(s)).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>True for mangled names in the torch, at, c10 or caffe2 namespaces (functions, vtables, typeinfo).</summary>
    public static bool IsTorchSymbol(string symbol) =>
        symbol.StartsWith("_Z", StringComparison.Ordinal) &&
        (symbol.Contains("5torch", StringComparison.Ordinal) || symbol.Contains("3c10", StringComparison.Ordinal) ||
         symbol.Contains("2at", StringComparison.Ordinal) || symbol.Contains("6caffe2", StringComparison.Ordinal));

    private static string ReadString(MemoryMappedViewAccessor view, long at)
    {
        var bytes = new List<byte>(64);
        for (byte b; (b = view.ReadByte(at)) != 0; at++)
        {
            bytes.Add(b);
        }
        return Encoding.ASCII.GetString(bytes.ToArray());
    }
}
