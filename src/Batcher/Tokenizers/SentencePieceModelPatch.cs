using System.Text;

namespace StreamLoader.Batcher.Tokenizers;

/// <summary>
/// Works around Microsoft.ML.Tokenizers 2.0.1 failing (IndexOutOfRangeException) on SentencePiece models that disable
/// BOS or EOS with id -1, as ALBERT's does. The model protobuf is rewritten in memory so the disabled ids point at the
/// model's own sentence-start and sentence-end control pieces ([CLS]/&lt;s&gt;, [SEP]/&lt;/s&gt;), else at the unknown piece.
/// The ids only name those pieces: the batcher never asks the tokenizer to add BOS or EOS.
/// </summary>
internal static class SentencePieceModelPatch
{
    private const int PiecesField = 1;
    private const int TrainerSpecField = 2;
    private const int UnkIdField = 40;
    private const int BosIdField = 41;
    private const int EosIdField = 42;

    /// <summary>The piece strings in id order, control pieces ([CLS], [MASK]) included.</summary>
    public static string[] ReadPieces(byte[] model)
    {
        var pieces = new List<string>();
        foreach (Field piece in Parse(model, 0, model.Length).Where(f => f.Number == PiecesField && f.WireType == 2))
        {
            Field? text = Parse(model, piece.Start, piece.Start + piece.Length).FirstOrDefault(f => f.Number == 1 && f.WireType == 2);
            pieces.Add(text is null ? string.Empty : Encoding.UTF8.GetString(model, text.Start, text.Length));
        }
        return pieces.ToArray();
    }

    /// <summary>Returns the model bytes, patched when BOS or EOS is disabled; unchanged otherwise.</summary>
    public static byte[] Apply(byte[] model)
    {
        List<Field> top = Parse(model, 0, model.Length);
        Field? trainer = top.FirstOrDefault(f => f.Number == TrainerSpecField && f.WireType == 2);
        if (trainer is null)
        {
            return model;
        }
        List<Field> spec = Parse(model, trainer.Start, trainer.Start + trainer.Length);
        long bos = spec.FirstOrDefault(f => f.Number == BosIdField)?.Value ?? 1;
        long eos = spec.FirstOrDefault(f => f.Number == EosIdField)?.Value ?? 2;
        if (bos >= 0 && eos >= 0)
        {
            return model;
        }

        var pieces = new List<string>(ReadPieces(model));
        long unk = spec.FirstOrDefault(f => f.Number == UnkIdField)?.Value ?? 0;
        long Find(string[] names)
        {
            foreach (string name in names)
            {
                int index = pieces.IndexOf(name);
                if (index >= 0)
                {
                    return index;
                }
            }
            return unk;
        }
        long newBos = bos >= 0 ? bos : Find(["<s>", "[CLS]"]);
        long newEos = eos >= 0 ? eos : Find(["</s>", "[SEP]"]);

        var specBytes = new MemoryStream();
        foreach (Field field in spec.Where(f => f.Number is not (BosIdField or EosIdField)))
        {
            specBytes.Write(model, field.TagStart, field.End - field.TagStart);
        }
        WriteVarintField(specBytes, BosIdField, newBos);
        WriteVarintField(specBytes, EosIdField, newEos);

        var output = new MemoryStream(model.Length + 16);
        foreach (Field field in top)
        {
            if (field == trainer)
            {
                WriteVarint(output, ((ulong)TrainerSpecField << 3) | 2);
                WriteVarint(output, (ulong)specBytes.Length);
                specBytes.WriteTo(output);
            }
            else
            {
                output.Write(model, field.TagStart, field.End - field.TagStart);
            }
        }
        return output.ToArray();
    }

    private sealed record Field(int Number, int WireType, int TagStart, int Start, int Length, int End, long Value);

    private static List<Field> Parse(byte[] data, int start, int end)
    {
        var fields = new List<Field>();
        int i = start;
        while (i < end)
        {
            int tagStart = i;
            ulong tag = ReadVarint(data, ref i);
            int number = (int)(tag >> 3);
            int wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    long value = (long)ReadVarint(data, ref i);
                    fields.Add(new Field(number, wire, tagStart, i, 0, i, value));
                    break;
                case 1:
                    i += 8;
                    fields.Add(new Field(number, wire, tagStart, i - 8, 8, i, 0));
                    break;
                case 2:
                    int length = (int)ReadVarint(data, ref i);
                    fields.Add(new Field(number, wire, tagStart, i, length, i + length, 0));
                    i += length;
                    break;
                case 5:
                    i += 4;
                    fields.Add(new Field(number, wire, tagStart, i - 4, 4, i, 0));
                    break;
                default:
                    throw new InvalidDataException($"Not a SentencePiece model: protobuf wire type {wire} at byte {tagStart}.");
            }
        }
        if (i != end)
        {
            throw new InvalidDataException("Not a SentencePiece model: a protobuf field runs past its end.");
        }
        return fields;
    }

    private static ulong ReadVarint(byte[] data, ref int i)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = data[i++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
        throw new InvalidDataException("Not a SentencePiece model: malformed varint.");
    }

    private static void WriteVarintField(Stream output, int number, long value)
    {
        WriteVarint(output, (ulong)number << 3);
        WriteVarint(output, (ulong)value);
    }

    private static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }
}
