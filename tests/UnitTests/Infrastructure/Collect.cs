using StreamLoader.Core.Documents;
using StreamLoader.Provider.Streaming;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>Helpers to drain async streams in tests, with a timeout so a hang fails instead of blocking the suite.</summary>
public static class Collect
{
    public static async Task<List<T>> AllAsync<T>(IAsyncEnumerable<T> source, int timeoutSeconds = 60)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var items = new List<T>();
        await foreach (T item in source.WithCancellation(cts.Token))
        {
            items.Add(item);
        }
        return items;
    }

    public static Task<List<Document>> DocumentsAsync(IDocumentSource source, int timeoutSeconds = 60) => AllAsync(source.ReadAsync(), timeoutSeconds);

    /// <summary>A rank's stream, from <paramref name="resume"/> if given, up to <paramref name="take"/> documents.</summary>
    public static async Task<List<Document>> StreamAsync(DocumentStream stream, ProviderPosition? resume = null, int take = int.MaxValue, int timeoutSeconds = 60)
    {
        var documents = new List<Document>();
        if (take == 0)
        {
            return documents;
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await foreach (Document document in stream.ReadAsync(resume, cts.Token))
        {
            documents.Add(document);
            if (documents.Count == take)
            {
                break;
            }
        }
        return documents;
    }

    /// <summary>The texts of <see cref="StreamAsync"/>.</summary>
    public static async Task<List<string>> TextsAsync(DocumentStream stream, ProviderPosition? resume = null, int take = int.MaxValue) =>
        (await StreamAsync(stream, resume, take)).ConvertAll(d => d.Text);

    /// <summary>The ids of <see cref="StreamAsync"/>.</summary>
    public static async Task<List<string>> IdsAsync(DocumentStream stream, ProviderPosition? resume = null, int take = int.MaxValue) =>
        (await StreamAsync(stream, resume, take)).ConvertAll(d => d.Id);
}
