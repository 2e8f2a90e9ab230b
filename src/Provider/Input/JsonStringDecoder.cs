using System.Text;
using System.Text.Json;
using StreamLoader.Core.Buffers;

namespace StreamLoader.Provider.Input;

/// <summary>
/// Turns JSON string values into strings through one buffer kept for the whole input, where
/// <see cref="Utf8JsonReader.GetString"/> rents and returns a buffer per escaped value (a document's text almost always
/// has <c>\n</c> escapes, so that is one rent per document).
/// </summary>
/// <remarks>
/// The line a value comes from must already be valid UTF-8 (<see cref="JsonLineCursor"/> checks every line), so the
/// decoding cannot meet an invalid byte. Invalid escapes (a lone surrogate) throw <see cref="InvalidOperationException"/>,
/// as <see cref="Utf8JsonReader.GetString"/> does.
/// </remarks>
internal sealed class JsonStringDecoder : IDisposable
{
    private byte[] _unescaped = [];

    /// <summary>The string value the reader is on.</summary>
    public string GetString(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
        {
            throw new InvalidOperationException($"expected a JSON string, found {reader.TokenType}");
        }
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }
        // Unescaped text is never longer than its escaped form.
        int most = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (_unescaped.Length < most)
        {
            byte[] old = _unescaped;
            _unescaped = HandOffArrayPool.Rent<byte>(most);
            HandOffArrayPool.Return(old);
        }
        int written = reader.CopyString(_unescaped);
        return Encoding.UTF8.GetString(_unescaped, 0, written);
    }

    public void Dispose()
    {
        byte[] unescaped = _unescaped;
        _unescaped = [];
        HandOffArrayPool.Return(unescaped);
    }
}
