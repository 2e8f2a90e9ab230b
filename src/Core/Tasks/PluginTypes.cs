using System.Reflection;

namespace StreamLoader.Core.Tasks;

/// <summary>How plugin classes are found: every public, non-abstract implementation with a public parameterless constructor.</summary>
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
}
