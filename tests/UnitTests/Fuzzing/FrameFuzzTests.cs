using System.Buffers;
using StreamLoader.Core.Tensors;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport;
using StreamLoader.Transport.Framing;
using StreamLoader.Transport.Streams;
using Xunit.Abstractions;

namespace StreamLoader.Tests.Fuzzing;

/// <summary>
/// The frame parser under a deterministic mutation fuzzer (<see cref="FrameMutator"/>), from seed frames as tasks
/// write them: every mutated frame either decodes into a batch or is refused with an <see cref="InvalidDataException"/>
/// naming what is wrong — never another exception, never an allocation a header's numbers ask for beyond the frame's
/// bytes. The same for a pipe's stream of frames, where a cut-off stream may also be an <see cref="IOException"/>.
/// Set STREAMLOADER_FUZZ_ITERATIONS for a longer run (docs/SECURITY.md).
/// </summary>
public sealed class FrameFuzzTests(ITestOutputHelper output)
{
    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("STREAMLOADER_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : 100_000;

    private static byte[][] Seeds()
    {
        var batch = new TensorBatch("mlm", 41) { TokenCount = 30, RowCount = 3 };
        batch.Add("input_ids", TensorDType.I64, [3, 8]).AsSpan<long>().Fill(7);
        batch.Add("attention_mask", TensorDType.I64, [3, 8]).AsSpan<long>().Fill(1);
        batch.Add("labels", TensorDType.I64, [3, 8]).AsSpan<long>().Fill(-100);
        batch.Add("weights", TensorDType.F32, [3]).AsSpan<float>().Fill(0.5f);
        batch.Add("flags", TensorDType.U8, [2, 2]).AsSpan<byte>().Fill(1);
        batch.Metadata["resume_position"] = """{"files":[0],"partition_counts":[]}""";
        batch.Metadata["label_names"] = "a\nb\nc";
        var empty = new TensorBatch("classify", 0);
        var end = new ArrayBufferWriter<byte>();
        TensorFrame.WriteEnd(2, null, end, new Dictionary<string, string> { ["total"] = "2" });
        var error = new ArrayBufferWriter<byte>();
        TensorFrame.WriteEnd(1, "loader: docs.jsonl, line 3: truncated", error);
        return [Frame(batch), Frame(empty), end.WrittenSpan.ToArray(), error.WrittenSpan.ToArray()];

        static byte[] Frame(TensorBatch batch)
        {
            using (batch)
            {
                var written = new ArrayBufferWriter<byte>();
                TensorFrame.Write(batch, written);
                return written.WrittenSpan.ToArray();
            }
        }
    }

    [Fact]
    public void MutatedFrames_DecodeOrAreRefusedWithAMessage()
    {
        (int decoded, int refused) = FuzzFrames(seed: 20261205, Iterations, TimeSpan.MaxValue);
        output.WriteLine($"{decoded + refused:N0} mutated frames: {decoded:N0} decoded, {refused:N0} refused with a message, 0 other exceptions");
        Assert.True(refused > (decoded + refused) / 4 && decoded > 0, $"{decoded} decoded, {refused} refused: the mutations should reach both");
    }

    [Fact]
    public async Task MutatedFrameStreams_ReadOrFailWithAMessage()
    {
        (int clean, int failed) = await FuzzStreamsAsync(seed: 5, Iterations / 10, TimeSpan.MaxValue);
        output.WriteLine($"{clean + failed:N0} mutated frame streams: {clean:N0} read to their end, {failed:N0} failed with a message, 0 other exceptions");
        Assert.True(failed > 0 && clean > 0);
    }

    /// <summary>The time-boxed run .ci/run makes after the fast suite: a minute over both, from seeds that change every run (printed, to reproduce).</summary>
    [Fact]
    [Trait("Category", "EndToEnd")]
    public async Task LongRun_AMinuteOfMutations_NoOtherException()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed} (STREAMLOADER_FUZZ_ITERATIONS and a fixed seed reproduce a failure through FuzzFrames/FuzzStreamsAsync)");
        (int decoded, int refused) = FuzzFrames(seed, int.MaxValue, TimeSpan.FromSeconds(40));
        (int clean, int failed) = await FuzzStreamsAsync(seed + 1, int.MaxValue, TimeSpan.FromSeconds(20));
        output.WriteLine($"frames: {decoded + refused:N0} ({decoded:N0} decoded, {refused:N0} refused); streams: {clean + failed:N0} ({clean:N0} read, {failed:N0} failed with a message); 0 other exceptions");
    }

    /// <summary>Mutated frames, decoded as a ZeroMQ reader decodes one message, until <paramref name="iterations"/> or <paramref name="budget"/>.</summary>
    internal static (int Decoded, int Refused) FuzzFrames(int seed, int iterations, TimeSpan budget)
    {
        byte[][] seeds = Seeds();
        var mutator = new FrameMutator(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int decoded = 0, refused = 0;
        for (int i = 0; i < iterations && clock.Elapsed < budget; i++)
        {
            (byte[] input, string what) = mutator.Mutate(seeds[i % seeds.Length], seeds[(i + 1) % seeds.Length]);
            try
            {
                TensorFrame.Header header = TensorFrame.Decode(input, "fuzz", out ReadOnlySpan<byte> data);
                TensorFrame.ToBatch(header, data).Dispose();
                decoded++;
            }
            catch (InvalidDataException ex)
            {
                Assert.StartsWith("fuzz", ex.Message, StringComparison.Ordinal);
                refused++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, iteration {i} (seed frame {i % seeds.Length}; {what}): {ex.GetType().Name}: {ex.Message}\ninput: {Convert.ToBase64String(input)}");
            }
        }
        return (decoded, refused);
    }

    /// <summary>Mutated streams of frames, read as a pipe's reader reads them, until <paramref name="iterations"/> or <paramref name="budget"/>.</summary>
    internal static async Task<(int Clean, int Failed)> FuzzStreamsAsync(int seed, int iterations, TimeSpan budget)
    {
        byte[][] seeds = Seeds();
        var end = new ArrayBufferWriter<byte>();
        TensorFrame.WriteEnd(3, null, end);
        byte[] stream = [.. seeds[0], .. seeds[1], .. seeds[0], .. end.WrittenSpan];
        var mutator = new FrameMutator(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int clean = 0, failed = 0;
        for (int i = 0; i < iterations && clock.Elapsed < budget; i++)
        {
            (byte[] input, string what) = mutator.Mutate(stream, seeds[3]);
            await using var reader = new StreamBatchReader(new MemoryStream(input), "fuzz");
            try
            {
                await foreach (TensorBatch batch in reader.ReadAllAsync())
                {
                    batch.Dispose();
                }
                clean++;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                Assert.StartsWith("fuzz", ex.Message, StringComparison.Ordinal);
                failed++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, iteration {i} ({what}): {ex.GetType().Name}: {ex.Message}\ninput: {Convert.ToBase64String(input)}");
            }
        }
        return (clean, failed);
    }
}
