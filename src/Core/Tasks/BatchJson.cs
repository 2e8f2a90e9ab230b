using System.Globalization;
using System.Text.Json;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Core.Tasks;

/// <summary>
/// <c>inspect --output-format json</c>: one JSON object per batch, read from the tensors every task names the same way
/// (<see cref="TaskTensors"/>), so a plugin's batches are described too. Schema: docs/SUMMARY.md.
/// </summary>
/// <remarks>
/// Per row: the ids up to the padding and their text; the token targets (<c>labels</c> <c>[batch, seq]</c>: MLM's
/// masked originals beside the token the input holds there, CLM's next tokens, a span task's decoder targets with their
/// sentinels) and their text; the label names (<c>labels</c> <c>[batch]</c> or multi-hot <c>[batch, labels]</c>); and the
/// documents of a packed row (<c>document_ids</c>), each with its first and last position.
/// </remarks>
public static class BatchJson
{
    public static void Write(TensorBatch batch, ITextTokenizer tokenizer, Utf8JsonWriter json, int maxRows)
    {
        json.WriteStartObject();
        json.WriteNumber("sequence", batch.Sequence);
        json.WriteString("task", batch.Task);
        json.WriteNumber("rows", batch.RowCount);
        json.WriteStartArray("tensors");
        foreach (TensorBuffer tensor in batch.Tensors)
        {
            json.WriteStartObject();
            json.WriteString("name", tensor.Name);
            json.WriteString("dtype", TensorDTypes.WireName(tensor.DType));
            json.WriteStartArray("shape");
            foreach (int dimension in tensor.Shape)
            {
                json.WriteNumberValue(dimension);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartObject("metadata");
        foreach ((string key, string value) in batch.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (key != BatchMetadataKeys.ResumePosition)
            {
                json.WriteString(key, value);
            }
        }
        json.WriteEndObject();

        json.WriteStartArray("row_details");
        if (batch.TryGet(TaskTensors.InputIds, out TensorBuffer ids) && ids.Shape.Length == 2 && ids.DType == TensorDType.I64)
        {
            LabelSet? names = batch.Metadata.TryGetValue(BatchMetadataKeys.LabelNames, out string? text) ? LabelSet.FromMetadata(text) : null;
            for (int r = 0; r < Math.Min(ids.Shape[0], maxRows); r++)
            {
                WriteRow(batch, tokenizer, json, ids, r, names);
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteRow(TensorBatch batch, ITextTokenizer tokenizer, Utf8JsonWriter json, TensorBuffer ids, int r, LabelSet? names)
    {
        int columns = ids.Shape[1];
        ReadOnlySpan<long> row = ids.AsSpan<long>().Slice(r * columns, columns);
        int length = 0;
        while (length < columns && row[length] != tokenizer.Special.Pad)
        {
            length++;
        }
        json.WriteStartObject();
        json.WriteNumber("row", r);
        json.WriteStartArray("ids");
        for (int c = 0; c < length; c++)
        {
            json.WriteNumberValue(row[c]);
        }
        json.WriteEndArray();
        json.WriteString("text", Decode(tokenizer, row[..length]));

        if (batch.TryGet(TaskTensors.Labels, out TensorBuffer labels))
        {
            if (labels.Shape.Length == 2 && labels.DType == TensorDType.I64 && labels.Shape[1] > 0 && labels.Shape[0] == ids.Shape[0] && names is null)
            {
                // An encoder-decoder's targets are the decoder's: the encoder's input at the same position is not their input.
                WriteTokenTargets(tokenizer, json, labels, r, batch.TryGet(TaskTensors.DecoderInputIds, out _) ? [] : row);
            }
            else if (names is not null)
            {
                json.WriteStartArray("labels");
                foreach (string name in LabelsOf(labels, r, names))
                {
                    json.WriteStringValue(name);
                }
                json.WriteEndArray();
            }
        }
        if (batch.TryGet(TaskTensors.DecoderInputIds, out TensorBuffer decoder) && decoder.Shape.Length == 2 && decoder.DType == TensorDType.I64)
        {
            int width = decoder.Shape[1];
            ReadOnlySpan<long> input = decoder.AsSpan<long>().Slice(r * width, width);
            json.WriteString("decoder_input_text", Decode(tokenizer, input[..Length(input, tokenizer.Special.Pad, skipFirst: true)]));
        }
        if (batch.TryGet(TaskTensors.DocumentIds, out TensorBuffer documents) && documents.Shape.Length == 2 && documents.DType == TensorDType.I64)
        {
            WriteDocuments(json, documents.AsSpan<long>().Slice(r * documents.Shape[1], documents.Shape[1]));
        }
        json.WriteEndObject();
    }

    /// <summary>Each position with a target: the target token, and the token the input holds there.</summary>
    private static void WriteTokenTargets(ITextTokenizer tokenizer, Utf8JsonWriter json, TensorBuffer labels, int r, ReadOnlySpan<long> input)
    {
        int columns = labels.Shape[1];
        ReadOnlySpan<long> targets = labels.AsSpan<long>().Slice(r * columns, columns);
        var ordered = new List<int>();
        json.WriteStartArray("targets");
        for (int c = 0; c < columns; c++)
        {
            if (targets[c] == TaskTensors.IgnoreIndex)
            {
                continue;
            }
            json.WriteStartObject();
            json.WriteNumber("position", c);
            json.WriteNumber("id", targets[c]);
            json.WriteString("token", tokenizer.IdToToken((int)targets[c]));
            if (c < input.Length)
            {
                json.WriteString("input_token", tokenizer.IdToToken((int)input[c]));
            }
            json.WriteEndObject();
            ordered.Add((int)targets[c]);
        }
        json.WriteEndArray();
        json.WriteString("target_text", tokenizer.Decode(ordered.ToArray()));
    }

    private static IEnumerable<string> LabelsOf(TensorBuffer labels, int r, LabelSet names)
    {
        if (labels.DType == TensorDType.F32 && labels.Shape.Length == 2)
        {
            int k = labels.Shape[1];
            float[] row = labels.AsSpan<float>().Slice(r * k, k).ToArray();
            return Enumerable.Range(0, Math.Min(k, names.Count)).Where(i => row[i] > 0.5f).Select(i => names.Names[i]);
        }
        if (labels.DType == TensorDType.I64 && labels.Shape.Length == 1)
        {
            long id = labels.AsSpan<long>()[r];
            return id >= 0 && id < names.Count ? [names.Names[(int)id]] : [id.ToString(CultureInfo.InvariantCulture)];
        }
        return [];
    }

    /// <summary>The packed documents of a row: which document, its first and last position.</summary>
    private static void WriteDocuments(Utf8JsonWriter json, ReadOnlySpan<long> documentIds)
    {
        json.WriteStartArray("documents");
        int start = 0;
        for (int c = 1; c <= documentIds.Length; c++)
        {
            if (c == documentIds.Length || documentIds[c] != documentIds[start])
            {
                if (documentIds[start] >= 0)
                {
                    json.WriteStartObject();
                    json.WriteNumber("document", documentIds[start]);
                    json.WriteNumber("start", start);
                    json.WriteNumber("end", c - 1);
                    json.WriteEndObject();
                }
                start = c;
            }
        }
        json.WriteEndArray();
    }

    private static int Length(ReadOnlySpan<long> ids, int pad, bool skipFirst)
    {
        int n = skipFirst ? Math.Min(1, ids.Length) : 0;
        while (n < ids.Length && ids[n] != pad)
        {
            n++;
        }
        return n;
    }

    private static string Decode(ITextTokenizer tokenizer, ReadOnlySpan<long> ids)
    {
        int[] values = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            values[i] = (int)ids[i];
        }
        return tokenizer.Decode(values);
    }
}
