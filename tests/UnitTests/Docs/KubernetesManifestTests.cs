using System.Text.Json;
using System.Text.RegularExpressions;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Docs;

/// <summary>
/// The Kubernetes manifests the docs give (INFERENCE.md's indexed Job, DISTRIBUTED.md's loader sidecar) are valid
/// against the Kubernetes API's schemas (npm kubernetes-models, via scripts/k8s_validate.js): taken from the docs as
/// they are, so the docs cannot drift from what a cluster accepts. No cluster needed.
/// </summary>
public sealed class KubernetesManifestTests
{
    [SkippableFact]
    public void InferenceIndexedJob_IsAValidJob()
    {
        using var files = new TempFiles();
        string manifest = files.WriteText("job.yaml", DocBlocks.After("INFERENCE.md", "### Kubernetes: an indexed Job", "yaml"));

        (int exit, string output, string errors) = NodeScripts.Execute("k8s_validate.js", manifest);

        Assert.True(exit == 0, $"{output}\n{errors}");
        JsonElement job = JsonDocument.Parse(output.Split('\n')[0]).RootElement;
        Assert.Equal(("Job", "classify-corpus", true), (job.GetProperty("kind").GetString(), job.GetProperty("name").GetString(), job.GetProperty("valid").GetBoolean()));
        Assert.Contains("completionMode: Indexed", File.ReadAllText(manifest), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void DistributedLoaderSidecar_IsAValidPodSpec()
    {
        using var files = new TempFiles();
        // The docs give the pod's containers; a Pod around them is what the schema checks.
        string containers = DocBlocks.After("DISTRIBUTED.md", "### Kubernetes", "yaml");
        string pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: train-0\nspec:\n" + string.Concat(containers.Split('\n').Select(l => l.Length > 0 ? $"  {l}\n" : "\n"));
        string manifest = files.WriteText("pod.yaml", pod);

        (int exit, string output, string errors) = NodeScripts.Execute("k8s_validate.js", manifest);

        Assert.True(exit == 0, $"{output}\n{errors}\n{pod}");
    }

    /// <summary>The check is real: a Job with a wrong type and a misspelt enumeration is refused, naming both.</summary>
    [SkippableFact]
    public void BrokenJob_IsRefusedNamingTheFields()
    {
        using var files = new TempFiles();
        string job = DocBlocks.After("INFERENCE.md", "### Kubernetes: an indexed Job", "yaml")
            .Replace("completions: 8", "completions: \"eight\"", StringComparison.Ordinal)
            .Replace("completionMode: Indexed", "completionMode: Indexd", StringComparison.Ordinal);
        string manifest = files.WriteText("job.yaml", job);

        (int exit, string output, _) = NodeScripts.Execute("k8s_validate.js", manifest);

        Assert.Equal(1, exit);
        Assert.Contains("completions must be integer", output, StringComparison.Ordinal);
        Assert.Contains("completionMode must be equal to one of the allowed values", output, StringComparison.Ordinal);
    }
}
