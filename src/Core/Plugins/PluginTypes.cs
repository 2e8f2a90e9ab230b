using System.Reflection;

namespace StreamLoader.Core.Plugins;

/// <summary>How plugins are found (every public, non-abstract implementation with a public parameterless constructor) and chosen (the surest).</summary>
public static class PluginTypes
{
    /// <summary>One instance of each plugin class implementing <typeparamref name="T"/> in <paramref name="assemblies"/>, in declaration order.</summary>
    /// <exception cref="ReflectionTypeLoadException">An assembly's types cannot be loaded (built against other StreamLoader assemblies).</exception>
    public static IEnumerable<T> Create<T>(IEnumerable<Assembly> assemblies)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        foreach (Assembly assembly in assemblies)
        {
            foreach (Type type in assembly.GetExportedTypes())
            {
                if (!type.IsAbstract && !type.IsInterface && typeof(T).IsAssignableFrom(type) && type.GetConstructor(Type.EmptyTypes) is not null)
                {
                    yield return (T)Activator.CreateInstance(type)!;
                }
            }
        }
    }

    /// <summary>
    /// The candidate surest of something (the highest <paramref name="confidence"/>; the first of equals), or null when
    /// none is sure at all (0): how a catalog picks the tokenizer family for some files or the transport for a location.
    /// </summary>
    public static T? MostConfident<T>(IEnumerable<T> candidates, Func<T, int> confidence)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(confidence);
        T? best = null;
        int highest = 0;
        foreach (T candidate in candidates)
        {
            int sure = confidence(candidate);
            if (sure > highest)
            {
                (best, highest) = (candidate, sure);
            }
        }
        return best;
    }
}
