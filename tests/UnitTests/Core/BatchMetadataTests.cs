using StreamLoader.Core.Tensors;

namespace StreamLoader.Tests.Core;

public sealed class BatchMetadataTests
{
    private static readonly Dictionary<string, string> s_shared = new(StringComparer.Ordinal) { ["tokenizer"] = "wordpiece", ["vocab_size"] = "30522" };

    [Fact]
    public void OwnEntries_HideSharedOnes_AndReadAsOneDictionary()
    {
        var metadata = new BatchMetadataDictionary();
        metadata["seq_len"] = "128";
        metadata.Share(s_shared);
        metadata["vocab_size"] = "8";

        Assert.Equal("8", metadata["vocab_size"]);
        Assert.Equal("wordpiece", metadata["tokenizer"]);
        Assert.Equal(3, metadata.Count);
        Assert.Equal(["seq_len", "vocab_size", "tokenizer"], metadata.Select(p => p.Key));
        Assert.Equal(new Dictionary<string, string> { ["seq_len"] = "128", ["vocab_size"] = "8", ["tokenizer"] = "wordpiece" }, new Dictionary<string, string>(metadata));
        // The shared entries are not changed through a batch.
        Assert.Equal("30522", s_shared["vocab_size"]);
    }

    [Fact]
    public void Remove_HidesASharedKey_AndAddRefusesAKeyItHas()
    {
        var metadata = new BatchMetadataDictionary();
        metadata.Share(s_shared);

        Assert.True(metadata.Remove("tokenizer"));
        Assert.False(metadata.ContainsKey("tokenizer"));
        Assert.False(metadata.Remove("tokenizer"));
        Assert.Equal(["vocab_size"], metadata.Keys);
        Assert.Throws<ArgumentException>(() => metadata.Add("vocab_size", "1"));
        Assert.True(metadata.TryAdd("tokenizer", "bpe"));
        Assert.Equal("bpe", metadata["tokenizer"]);
        Assert.Throws<KeyNotFoundException>(() => metadata["missing"]);
    }

    [Fact]
    public void ManyOwnEntries_GrowPastTheFirstArray()
    {
        var metadata = new BatchMetadataDictionary();
        for (int i = 0; i < 40; i++)
        {
            metadata[$"k{i}"] = MetadataText.Of(i);
        }
        Assert.Equal(40, metadata.Count);
        Assert.Equal("39", metadata["k39"]);
        Assert.Same(MetadataText.Of(7), MetadataText.Of(7));
        Assert.Equal("123456789012", MetadataText.Of(123456789012));
        Assert.Equal("-1", MetadataText.Of(-1));
    }
}
