using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace StreamLoader.Core.Storage;

/// <summary>The small JSON files a run keeps (positions, checkpoint manifests, trainer state): written atomically, read with errors that name the file.</summary>
public static class JsonFile
{
    /// <summary>Writes <paramref name="value"/> to a temporary file beside <paramref name="path"/>, then renames it over: a crash leaves the old file or the new one, never half of one.</summary>
    public static void WriteAtomic<T>(string path, T value, JsonTypeInfo<T> type)
    {
        StagedFile.WriteAllText(path, JsonSerializer.Serialize(value, type));
    }

    /// <summary>Reads a file written by <see cref="WriteAtomic"/>; a file that is not <paramref name="what"/> is an <see cref="InvalidDataException"/> naming it.</summary>
    public static T Read<T>(string path, JsonTypeInfo<T> type, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), type) ?? throw new InvalidDataException($"{path}: the {what} is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a {what}: {ex.Message}", ex);
        }
    }
}
