using System.Buffers.Binary;
using System.Text;
using StreamLoader.Device.Models.HuggingFace;
using StreamLoader.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Tests.Pretrained;

/// <summary>Model weight files: written and read back in every stored dtype, sharded, and damaged in the ways downloads are.</summary>
[Collection(TorchCollection.Name)]
public sealed class SafeTensorsFileTests
{
    [Fact]
    public void WrittenThenRead_GivesTheSameValues_ConvertedOnLoad()
    {
        using var files = new TempFiles();
        using var scope = NewDisposeScope();
        Tensor weights = arange(0, 12, dtype: ScalarType.Float32).reshape(3, 4) / 7;
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = weights,
            ["b.half"] = weights.to_type(ScalarType.Float16),
            ["c.bf16"] = weights.to_type(ScalarType.BFloat16),
            ["d.ids"] = arange(5, dtype: ScalarType.Int64),
        };
        string path = files.Path("model.safetensors");
        SafeTensorsWriter.Write(path, tensors);

        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(["a.weight", "b.half", "c.bf16", "d.ids"], file.Names);
        Assert.Equal("pt", file.Header.Metadata["format"]);
        Assert.True(file.Load("a.weight").eq(weights).all().item<bool>());
        Tensor half = file.Load("b.half", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, half.dtype);
        Assert.True(half.eq(weights.to_type(ScalarType.Float16).to_type(ScalarType.Float32)).all().item<bool>());
        Assert.True(file.Load("c.bf16", ScalarType.Float32).eq(weights.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32)).all().item<bool>());
        Assert.Equal([0L, 1, 2, 3, 4], file.Load("d.ids").data<long>().ToArray());
        // The header is padded to 8 bytes, so the data (and every tensor, widest first) starts aligned.
        Assert.Equal(0, BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path).AsSpan(0, 8)) % 8);
    }

    [Fact]
    public void ShardedFolder_ReadsEveryShardTheIndexNames()
    {
        using var files = new TempFiles();
        using var scope = NewDisposeScope();
        SafeTensorsWriter.Write(files.Path("model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["x"] = ones(2) });
        SafeTensorsWriter.Write(files.Path("model-00002-of-00002.safetensors"), new Dictionary<string, Tensor> { ["y"] = zeros(3) });
        File.WriteAllText(files.Path(HuggingFaceWeights.IndexFile), """{"metadata": {"total_size": 20}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}""");

        using HuggingFaceWeights weights = HuggingFaceWeights.Open(files.Folder);
        Assert.Equal(["x", "y"], weights.Names);
        Assert.Equal([3L], weights.ShapeOf("y"));
        Assert.Equal(2f, weights.Load("x").sum().item<float>());
    }

    [Fact]
    public void TruncatedFile_SaysWhereItEnds()
    {
        using var files = new TempFiles();
        using var scope = NewDisposeScope();
        string path = files.Path("model.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = ones(1000) });
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^100]);

        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("4,000 bytes of tensors", error.Message, StringComparison.Ordinal);
        Assert.Contains("it is truncated", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a header", "not valid safetensors JSON")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", "do not fit its shape [4] and dtype F32")]
    [InlineData("{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", "unknown dtype 'Q4'")]
    public void BadHeader_NamesTheFileAndWhatIsWrong(string header, string expected)
    {
        using var files = new TempFiles();
        string path = files.Path("model.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        byte[] bytes = new byte[8 + json.Length + 64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.StartsWith(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthPastTheEnd_IsNotReadAsAHeader()
    {
        using var files = new TempFiles();
        string path = files.Path("model.safetensors");
        byte[] bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue / 2);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("the header length at offset 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FolderWithOnlyAPickle_SaysHowToConvertIt()
    {
        using var files = new TempFiles();
        File.WriteAllBytes(files.Path("pytorch_model.bin"), [0x80, 0x02]);

        var error = Assert.Throws<FileNotFoundException>(() => HuggingFaceWeights.Open(files.Folder));
        Assert.Contains("pytorch_model.bin, a Python pickle, which is not read", error.Message, StringComparison.Ordinal);
        Assert.Contains("safetensors.torch.save_file", error.Message, StringComparison.Ordinal);
    }
}
