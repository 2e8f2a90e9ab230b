using StreamLoader.Core.Tensors;

namespace StreamLoader.Tests.Core;

/// <summary><see cref="Int64Rows.Widen"/>: every length, across the vector widths and their remainders, widens exactly.</summary>
public sealed class Int64RowsTests
{
    [Fact]
    public void Widen_EveryLengthUpTo70_CopiesEachIdSignExtended_AndLeavesTheRestAlone()
    {
        var random = new Random(5);
        for (int length = 0; length <= 70; length++)
        {
            int[] source = Enumerable.Range(0, length).Select(i => i % 5 == 0 ? (i % 2 == 0 ? int.MinValue : int.MaxValue) : random.Next(-1000, 200_000)).ToArray();
            long[] destination = Enumerable.Repeat(-7L, length + 3).ToArray();

            Int64Rows.Widen(source, destination);

            Assert.Equal(source.Select(x => (long)x), destination[..length]);
            Assert.All(destination[length..], x => Assert.Equal(-7L, x));
        }
    }

    [Fact]
    public void Widen_IntoAShorterDestination_Throws_NamingBothLengths()
    {
        var error = Assert.Throws<ArgumentException>(() => Int64Rows.Widen(new int[9], new long[8]));

        Assert.Contains("8 elements", error.Message, StringComparison.Ordinal);
        Assert.Contains("9 to copy", error.Message, StringComparison.Ordinal);
    }
}
