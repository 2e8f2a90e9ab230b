using System.Text;
using StreamLoader.Core.Distributed;
using StreamLoader.Core.Documents;
using StreamLoader.Provider;
using StreamLoader.Provider.Catalog;
using StreamLoader.Provider.Input;
using StreamLoader.Provider.Streaming;
using StreamLoader.Tests.Infrastructure;

namespace StreamLoader.Tests.Provider;

/// <summary>
/// How a stream groups a pass's parts into units read together (<see cref="PartInterleave"/>), and what a unit does
/// when one of its parts fails.
/// </summary>
public sealed class PartInterleaveTests
{
    [Fact]
    public void UnitsOf_OneRank_GroupsThePartsWidthAtATime()
    {
        List<PartUnit> units = PartInterleave.UnitsOf(6, new ShardLayout(RankInfo.Single, 1), byFile: false, width: 4);

        Assert.Equal([(0, 4, "0,1,2,3"), (4, 6, "4,5")], units.Select(u => (u.Start, u.End, string.Join(',', u.Reads))));
    }

    [Fact]
    public void UnitsOf_SplitByFile_GroupsTheRanksOwnFiles_OtherRanksFilesJoinTheUnitBeforeThem()
    {
        // Rank 1 of 3 owns positions 1, 4 and 7 of 8: a leading unit that reads nothing, then its files two at a time.
        List<PartUnit> units = PartInterleave.UnitsOf(8, new ShardLayout(new RankInfo(1, 3), 1), byFile: true, width: 2);

        Assert.Equal([(0, 1, ""), (1, 7, "1,4"), (7, 8, "7")], units.Select(u => (u.Start, u.End, string.Join(',', u.Reads))));
        // The units cover every position once, in order.
        Assert.Equal(Enumerable.Range(0, 8), units.SelectMany(u => Enumerable.Range(u.Start, u.End - u.Start)));
    }

    [Fact]
    public void UnitsOf_ARankWithNoFiles_OneUnitThatReadsNothing()
    {
        List<PartUnit> units = PartInterleave.UnitsOf(2, new ShardLayout(new RankInfo(3, 4), 1), byFile: true, width: 8);

        Assert.Equal([(0, 2, "")], units.Select(u => (u.Start, u.End, string.Join(',', u.Reads))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task AFailingPartInAUnit_FailsAfterTheSameDocuments_WhateverThePartsReadAtOnce(int partsAtOnce)
    {
        // Four gzip files read together in turns of five; the third is cut short. Whatever the number of parts with
        // readers of their own, the stream hands on the same documents, then the cut file's error naming it.
        using var files = new TempFiles();
        string folder = files.Path("shards");
        Directory.CreateDirectory(folder);
        for (int f = 0; f < 4; f++)
        {
            byte[] gzip = TempFiles.Gzip(string.Concat(Enumerable.Range(0, 3000).Select(i => $"{{\"id\":\"{f}-{i}\",\"text\":\"record {i} of file {f} with some words\"}}\n")));
            File.WriteAllBytes(Path.Combine(folder, $"part-{f}.jsonl.gz"), f == 2 ? gzip[..(gzip.Length / 2)] : gzip);
        }
        var options = new DocumentStreamOptions { Interleave = 4, InterleaveTurn = 5 };

        (List<string> serial, string serialError) = await ReadUntilFailureAsync(folder, options, partsAtOnce: 1);
        (List<string> ids, string error) = await ReadUntilFailureAsync(folder, options, partsAtOnce);

        Assert.Contains("part-2.jsonl.gz", error, StringComparison.Ordinal);
        Assert.Equal(serialError, error);
        Assert.Equal(serial, ids);
        // The files after the cut one kept their turns until the failure.
        Assert.True(ids.Contains("3:3-5"), $"{ids.Count} documents before the failure, the last {string.Join(' ', ids.TakeLast(12))}");
    }

    private static async Task<(List<string> Ids, string Error)> ReadUntilFailureAsync(string folder, DocumentStreamOptions options, int partsAtOnce)
    {
        IDocumentSource source = SourceFactory.Create(folder, new SourceSettings { Lines = new LineReaderOptions { DecodeThreads = 2, PartsAtOnce = partsAtOnce } });
        var ids = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        SourceFormatException error = await Assert.ThrowsAsync<SourceFormatException>(async () =>
        {
            await foreach (Document document in new DocumentStream(source, options).ReadAsync(cancellationToken: cts.Token))
            {
                ids.Add(document.Id);
            }
        });
        return (ids, error.Message);
    }
}
