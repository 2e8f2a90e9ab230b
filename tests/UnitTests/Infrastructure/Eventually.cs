using System.Diagnostics;

namespace StreamLoader.Tests.Infrastructure;

/// <summary>Waits for a condition the code under test makes true, bounded, instead of sleeping a fixed time.</summary>
public static class Eventually
{
    /// <summary>Returns once <paramref name="condition"/> holds; fails the test naming <paramref name="what"/> after <paramref name="timeoutSeconds"/>.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what, double timeoutSeconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > timeoutSeconds)
            {
                throw new TimeoutException($"still not so after {timeoutSeconds:0.#} s: {what}");
            }
            await Task.Delay(5);
        }
    }
}
