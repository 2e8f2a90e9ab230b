using System.Globalization;
using StreamLoader.Core.Tensors;

namespace StreamLoader.Core.Tokenization;

/// <summary>
/// What a model needs to know of the tokenizer that made its ids: its identity, the vocabulary size and the special
/// ids. The batcher stamps it on every batch, so a device in another process builds the right model from the frames.
/// </summary>
public sealed record VocabularyInfo(string Tokenizer, int Size, SpecialTokens Special)
{
    /// <summary>The description of <paramref name="tokenizer"/>.</summary>
    public static VocabularyInfo From(ITextTokenizer tokenizer) => new(tokenizer.Name, tokenizer.VocabularySize, tokenizer.Special);

    /// <summary>The description as metadata entries (the batcher shares them with every batch).</summary>
    public KeyValuePair<string, string>[] MetadataEntries() =>
        [
            new(BatchMetadataKeys.Tokenizer, Tokenizer),
            new(BatchMetadataKeys.VocabularySize, Format(Size)),
            new(BatchMetadataKeys.PadId, Format(Special.Pad)),
            new(BatchMetadataKeys.UnknownId, Format(Special.Unknown)),
            new(BatchMetadataKeys.ClsId, Format(Special.Cls)),
            new(BatchMetadataKeys.SepId, Format(Special.Sep)),
            new(BatchMetadataKeys.MaskId, Format(Special.Mask)),
        ];

    /// <summary>Reads a description made by <see cref="MetadataEntries"/>; false when the metadata lacks one.</summary>
    public static bool TryRead(IReadOnlyDictionary<string, string> metadata, out VocabularyInfo? info)
    {
        info = null;
        if (!metadata.TryGetValue(BatchMetadataKeys.Tokenizer, out string? name) || !TryInt(metadata, BatchMetadataKeys.VocabularySize, out int size))
        {
            return false;
        }
        TryInt(metadata, BatchMetadataKeys.PadId, out int pad);
        TryInt(metadata, BatchMetadataKeys.UnknownId, out int unknown);
        TryInt(metadata, BatchMetadataKeys.ClsId, out int cls);
        TryInt(metadata, BatchMetadataKeys.SepId, out int sep);
        TryInt(metadata, BatchMetadataKeys.MaskId, out int mask);
        info = new VocabularyInfo(name, size, new SpecialTokens(pad, unknown, cls, sep, mask));
        return true;
    }

    /// <summary>The differences from <paramref name="other"/>, for an error message; empty when they describe the same ids.</summary>
    public IReadOnlyList<string> Differences(VocabularyInfo other)
    {
        var problems = new List<string>();
        if (Tokenizer != other.Tokenizer)
        {
            problems.Add($"tokenizer {Tokenizer} vs {other.Tokenizer}");
        }
        if (Size != other.Size)
        {
            problems.Add($"vocabulary size {Size:N0} vs {other.Size:N0}");
        }
        if (Ids(Special) != Ids(other.Special))
        {
            problems.Add($"special ids {Describe(Special)} vs {Describe(other.Special)}");
        }
        return problems;
    }

    private static (int, int, int, int, int) Ids(SpecialTokens s) => (s.Pad, s.Unknown, s.Cls, s.Sep, s.Mask);

    private static string Describe(SpecialTokens s) => $"pad {s.Pad}, unk {s.Unknown}, cls {s.Cls}, sep {s.Sep}, mask {s.Mask}";

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static bool TryInt(IReadOnlyDictionary<string, string> metadata, string key, out int value)
    {
        value = -1;
        return metadata.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }
}
