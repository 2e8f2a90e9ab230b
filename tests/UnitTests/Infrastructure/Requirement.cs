namespace StreamLoader.Tests.Infrastructure;

/// <summary>
/// What a test needs from outside the repository — an oracle (an npm package, Debian's Python modules), a tool (Node.js,
/// gcc, torchrun) or a data file in <c>../shared/data</c>. Where it is missing the test skips with a message that names
/// it; where everything is required (CI, which sets <c>CI=true</c>, or <c>STREAMLOADER_REQUIRE_ALL=1</c>) it fails
/// instead, so a broken install cannot turn a suite green by skipping what it was meant to check.
/// </summary>
public static class Requirement
{
    /// <summary>The variable that makes every requirement compulsory outside CI too.</summary>
    public const string RequireAllVariable = "STREAMLOADER_REQUIRE_ALL";

    /// <summary>True where a missing requirement fails its test rather than skipping it.</summary>
    public static bool AllRequired { get; } = IsSet(RequireAllVariable) || IsSet("CI");

    /// <summary>Skips the test (or fails it where everything is required) when <paramref name="missing"/> is true.</summary>
    /// <param name="missing">Whether the requirement is missing here.</param>
    /// <param name="what">What is missing and how to get it: the message the skip or the failure shows.</param>
    public static void SkipIfMissing(bool missing, string what)
    {
        if (!missing)
        {
            return;
        }
        if (AllRequired)
        {
            throw new MissingRequirementException(what);
        }
        Skip.If(true, what);
    }

    /// <summary>Skips the test (or fails it where everything is required): <paramref name="what"/> is missing.</summary>
    public static void Missing(string what) => SkipIfMissing(true, what);

    private static bool IsSet(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value && value is not ("0" or "false" or "False" or "FALSE");
}

/// <summary>A test's oracle, tool or data file is missing where every requirement is compulsory (see <see cref="Requirement"/>).</summary>
public sealed class MissingRequirementException(string what)
    : Exception($"required here ({Requirement.RequireAllVariable}=1 or CI=true), but missing: {what}");
