using TorchSharp;
using static TorchSharp.torch;

namespace StreamLoader.Device.Models.HuggingFace;

/// <summary>What loading a folder's weights into a module did: which of the module's tensors came from the file, which did not, and which of the file's were left unused.</summary>
/// <param name="Loaded">The module's tensors filled from the file.</param>
/// <param name="Missing">The module's tensors the file lacks (they keep their fresh initialisation).</param>
/// <param name="Unused">The file's tensors the module has no place for (another head, say).</param>
public sealed record WeightLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unused);

/// <summary>
/// Copies a folder's tensors into a module whose names are Hugging Face's, in place and a tensor at a time: each of
/// the module's parameters and buffers looks for its name in the file (then the alternatives its family gives, such as
/// the name without the base model's prefix), checks the shape, and takes the values converted to its own dtype.
/// </summary>
public static class WeightLoading
{
    /// <summary>
    /// Loads what matches. <paramref name="alternatives"/> gives, for one of the module's names, the other names it may
    /// have in a file (older or headless exports); a shape that differs is an error naming both shapes.
    /// </summary>
    /// <param name="module">The module to fill.</param>
    /// <param name="weights">The folder's weights.</param>
    /// <param name="folder">The folder, for messages.</param>
    /// <param name="alternatives">Other names a tensor of the module may have in the file.</param>
    /// <param name="keepFresh">The module's tensors not to load (a head replaced because the labels differ); they count as missing.</param>
    public static WeightLoadReport Load(nn.Module module, HuggingFaceWeights weights, string folder, Func<string, IEnumerable<string>> alternatives, Func<string, bool>? keepFresh = null)
    {
        var loaded = new List<string>();
        var missing = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        using (no_grad())
        {
            foreach ((string name, Tensor target) in module.state_dict())
            {
                string? source = keepFresh?.Invoke(name) == true ? null : new[] { name }.Concat(alternatives(name)).FirstOrDefault(weights.Contains);
                if (source is null)
                {
                    missing.Add(name);
                    continue;
                }
                long[] stored = weights.ShapeOf(source);
                if (!stored.SequenceEqual(target.shape))
                {
                    throw new InvalidDataException($"{folder}: tensor '{source}' has shape [{string.Join(", ", stored)}] but the model built from config.json needs [{string.Join(", ", target.shape)}] for '{name}'; the weights and config.json disagree.");
                }
                using Tensor values = weights.Load(source, target.dtype);
                target.copy_(values);
                loaded.Add(name);
                used.Add(source);
            }
        }
        return new WeightLoadReport(loaded, missing, [.. weights.Names.Where(n => !used.Contains(n))]);
    }

    /// <summary>
    /// The names a tensor may have in a file besides its own: without the body's <paramref name="bodyPrefix"/> ("bert.",
    /// "roberta.": a headless <c>…Model</c> or sentence-transformers export), and with TensorFlow-era
    /// <c>gamma</c>/<c>beta</c> for a layer norm's weight and bias.
    /// </summary>
    public static IEnumerable<string> Alternatives(string name, string bodyPrefix)
    {
        foreach (string candidate in Legacy(name))
        {
            yield return candidate;
        }
        if (name.StartsWith(bodyPrefix, StringComparison.Ordinal))
        {
            string bare = name[bodyPrefix.Length..];
            yield return bare;
            foreach (string candidate in Legacy(bare))
            {
                yield return candidate;
            }
        }
    }

    private static IEnumerable<string> Legacy(string name)
    {
        if (name.EndsWith(".LayerNorm.weight", StringComparison.Ordinal))
        {
            yield return name[..^"weight".Length] + "gamma";
        }
        else if (name.EndsWith(".LayerNorm.bias", StringComparison.Ordinal))
        {
            yield return name[..^"bias".Length] + "beta";
        }
    }
}
