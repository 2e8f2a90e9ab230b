using TorchSharp;

namespace StreamLoader.Device.Runtime;

/// <summary>
/// The CPU threads a run's TorchSharp work uses, applied on whichever thread does that work. libtorch keeps its
/// intra-op thread count per OS thread (OpenMP's and MKL's thread-local settings, fixed when a thread first runs a
/// parallel operation), while a run's steps resume on whatever thread-pool thread an await lands on. Applied only at
/// load, a second run in one process, or a thread the pool adds later, would compute with another count than the
/// run's and sum floats in another order: the same batches would give different losses.
/// </summary>
public sealed class TorchThreads
{
    [ThreadStatic]
    private static int t_applied;

    private readonly int _requested;

    private TorchThreads(int requested) => _requested = requested;

    /// <summary>libtorch's own default: the count it chose when the process loaded it.</summary>
    public static TorchThreads Default { get; } = new(0);

    /// <summary><paramref name="count"/> threads; 0 is libtorch's default.</summary>
    public static TorchThreads Of(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return count == 0 ? Default : new TorchThreads(count);
    }

    /// <summary>The thread count (loads TorchSharp to learn its default).</summary>
    public int Count
    {
        get
        {
            if (_requested > 0)
            {
                return _requested;
            }
            if (TorchRuntime.DefaultThreads == 0)
            {
                // Read each step: take the loader's lock only until the default is known.
                TorchRuntime.EnsureLoaded();
            }
            return TorchRuntime.DefaultThreads;
        }
    }

    /// <summary>Gives the calling thread <see cref="Count"/> intra-op threads, unless this count was the last applied on it.</summary>
    public void ApplyToCurrentThread()
    {
        int count = Count;
        if (t_applied != count)
        {
            torch.set_num_threads(count);
            t_applied = count;
        }
    }
}
