using StreamLoader.Core.Tokenization;

namespace StreamLoader.Core.Tasks;

/// <summary>What a task checks before it batches: that the tokenizer has each special token the task's rows need.</summary>
public static class TaskTokens
{
    /// <summary>
    /// Throws an <see cref="ArgumentException"/> (exit 2) naming each token <paramref name="task"/> needs and
    /// <paramref name="tokenizer"/> lacks (an id below 0), in one line.
    /// </summary>
    public static void Require(string task, ITextTokenizer tokenizer, params (string What, int Id)[] needs) => Require(task, tokenizer, null, needs);

    /// <summary>As <see cref="Require(string, ITextTokenizer, ValueTuple{string, int}[])"/>, with advice after the message.</summary>
    public static void Require(string task, ITextTokenizer tokenizer, string? advice, params (string What, int Id)[] needs)
    {
        string[] missing = needs.Where(n => n.Id < 0).Select(n => n.What).ToArray();
        if (missing.Length > 0)
        {
            throw new ArgumentException($"{task} needs {string.Join(", and ", missing)}: the tokenizer {tokenizer.Name} has none.{(advice is null ? string.Empty : " " + advice)}");
        }
    }
}
