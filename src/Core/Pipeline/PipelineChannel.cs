using System.Threading.Channels;

namespace StreamLoader.Core.Pipeline;

/// <summary>A named bounded channel between two stages. Writers wait when it is full: that is the back-pressure.</summary>
public sealed class PipelineChannel<T> : IPipelineChannel
{
    private readonly Channel<T> _channel;

    internal PipelineChannel(string name, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Name = name;
        Capacity = capacity;
        _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
    }

    /// <summary>The channel's name, for reports.</summary>
    public string Name { get; }

    /// <summary>Most items it holds before writers wait.</summary>
    public int Capacity { get; }

    /// <summary>Items queued now.</summary>
    public int Count => _channel.Reader.CanCount ? _channel.Reader.Count : 0;

    internal ChannelReader<T> Reader => _channel.Reader;

    internal ChannelWriter<T> Writer => _channel.Writer;

    void IPipelineChannel.Complete(Exception? error) => _channel.Writer.TryComplete(error);

    int IPipelineChannel.DrainAndDispose()
    {
        int drained = 0;
        while (_channel.Reader.TryRead(out T? item))
        {
            (item as IDisposable)?.Dispose();
            drained++;
        }
        return drained;
    }
}

/// <summary>What the pipeline needs of any channel it owns, whatever its item type.</summary>
internal interface IPipelineChannel
{
    string Name { get; }

    void Complete(Exception? error);

    int DrainAndDispose();
}
