using System.Globalization;
using StreamLoader.Core.Diagnostics;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Tokenization;

namespace StreamLoader.Cli.Hosting;

/// <summary>What a device learns from the first frame it reads: the task, the vocabulary and the sequence length.</summary>
internal static class FrameDescription
{
    /// <summary>
    /// Reads the description from <paramref name="first"/> and checks it against the settings given on the command
    /// line. A given setting that contradicts the frames is one <see cref="SettingsConflictException"/> naming each.
    /// </summary>
    public static (string Task, VocabularyInfo Vocabulary, int SequenceLength) Check(TensorBatch first, RunSettings settings, string input)
    {
        if (!VocabularyInfo.TryRead(first.Metadata, out VocabularyInfo? vocabulary) || vocabulary is null)
        {
            throw new InvalidDataException($"{input}: the first frame does not say which tokenizer made it (no '{BatchMetadataKeys.Tokenizer}' and '{BatchMetadataKeys.VocabularySize}' metadata); it was written by another program or an older StreamLoader.");
        }
        int sequenceLength = first.Metadata.TryGetValue(BatchMetadataKeys.SequenceLength, out string? text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n
            : first.Tensors.Count > 0 && first.Tensors[0].Shape.Length == 2 ? first.Tensors[0].Shape[1] : settings.Batcher.SequenceLength;

        var conflicts = new List<string>();
        if (settings.TaskGiven && !string.Equals(settings.Task, first.Task, StringComparison.OrdinalIgnoreCase))
        {
            conflicts.Add($"--task {settings.Task}, but the frames are {first.Task} batches");
        }
        if (settings.Batcher.SequenceLengthGiven && settings.Batcher.SequenceLength != sequenceLength)
        {
            conflicts.Add($"--seq-len {settings.Batcher.SequenceLength}, but the frames have rows of {sequenceLength} tokens");
        }
        if (conflicts.Count > 0)
        {
            throw new SettingsConflictException($"{input}: {string.Join("; ", conflicts)}. Leave these options out: a device takes them from the frames.");
        }
        return (first.Task, vocabulary, sequenceLength);
    }
}
