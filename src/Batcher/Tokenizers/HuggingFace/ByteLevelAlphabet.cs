namespace StreamLoader.Batcher.Tokenizers.HuggingFace;

/// <summary>
/// GPT-2's byte-level alphabet, as Hugging Face's <c>ByteLevel</c> pre-tokenizer and decoder use it: each of the 256
/// byte values is one printable character (the printable Latin-1 bytes stand for themselves, the rest for U+0100 on).
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>The character each byte value stands for.</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>The byte each alphabet character stands for; -1 for characters outside the alphabet.</summary>
    public static readonly short[] CharToByte = Invert(ByteToChar);

    private static char[] Build()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static short[] Invert(char[] map)
    {
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            inverse[map[b]] = (short)b;
        }
        return inverse;
    }
}
