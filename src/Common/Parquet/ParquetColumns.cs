using Parquet;
using Parquet.Schema;

namespace StreamLoader.Common.Parquet;

/// <summary>
/// Reads a numeric Parquet column as nullable values whatever the column's repetition. Parquet.Net 6.1's nullable
/// overload of <see cref="ParquetRowGroupReader.ReadAsync{T}(DataField, Memory{T?}, Memory{int}?, CancellationToken)"/>
/// decides each value's nullness from a pooled definition-level buffer that it never fills for a required column
/// (maximum definition level 0): whatever an earlier reader left in that buffer turns values into nulls at random.
/// A required column is therefore read through the non-nullable overload.
/// </summary>
/// <remarks>Compiled into each project that reads Parquet (the provider's source, the results' reader).</remarks>
internal static class ParquetColumns
{
    /// <summary>The first <paramref name="count"/> values of <paramref name="field"/> in <paramref name="group"/>; null only where the file has a null.</summary>
    public static async ValueTask<T?[]> ReadAsync<T>(ParquetRowGroupReader group, DataField field, int count, CancellationToken cancellationToken)
        where T : struct
    {
        var values = new T?[count];
        if (field.MaxDefinitionLevel > 0)
        {
            await group.ReadAsync(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return values;
        }
        var required = new T[count];
        await group.ReadAsync(field, required.AsMemory(), null, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < count; i++)
        {
            values[i] = required[i];
        }
        return values;
    }
}
