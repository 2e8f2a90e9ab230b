namespace StreamLoader.Core.Tokenization;

/// <summary>Ids of the special tokens a tokenizer provides or its adapter appended; -1 where absent.</summary>
/// <param name="Pad">Padding.</param>
/// <param name="Unknown">Unknown token.</param>
/// <param name="Cls">Start of sequence ([CLS] or BOS).</param>
/// <param name="Sep">End of sequence or separator ([SEP] or EOS).</param>
/// <param name="Mask">The [MASK] token for masked language modelling.</param>
public sealed record SpecialTokens(int Pad, int Unknown, int Cls, int Sep, int Mask)
{
    /// <summary>Sentinel ids for span corruption (&lt;extra_id_0&gt;, ...), highest first; empty when none.</summary>
    public IReadOnlyList<int> Sentinels { get; init; } = [];

    /// <summary>True when <paramref name="id"/> is one of the special ids.</summary>
    public bool IsSpecial(int id) =>
        id == Pad || id == Cls || id == Sep || id == Mask || id == Unknown || (Sentinels.Count > 0 && Sentinels.Contains(id));
}
