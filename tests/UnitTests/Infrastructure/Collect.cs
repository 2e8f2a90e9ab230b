using StreamLoader.Core.Documents;

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
}
