using Microsoft.Extensions.Time.Testing;
using NetMQ;
using StreamLoader.Core.Tensors;
using StreamLoader.Core.Transport;
using StreamLoader.Tests.Infrastructure;
using StreamLoader.Transport;
using StreamLoader.Transport.Catalog;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Tests.Transport;

/// <summary>The ZeroMQ transport over real TCP sockets on 127.0.0.1: delivery, credit-based back-pressure, sharing, faults.</summary>
public sealed class ZeroMqTransportTests
{
    private static readonly ZeroMqOptions Slow = new() { PeerTimeout = TimeSpan.FromSeconds(20) };

    private static TensorBatch Batch(long sequence)
    {
        var batch = new TensorBatch("mlm", sequence) { TokenCount = 4, RowCount = 2 };
        batch.Add("input_ids", TensorDType.I64, [2, 2]).AsSpan<long>().Fill(sequence);
        return batch;
    }

    [Fact]
    public async Task RoundTrip_DeliversEveryBatchInOrderThenEnds()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 3, options: Slow);

        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        for (int i = 0; i < 50; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        List<TensorBatch> batches = await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.Equal(49L, batches[49]["input_ids"].AsSpan<long>()[3]);
        batches.ForEach(b => b.Dispose());
    }

    /// <summary>
    /// A console run that ends inside a process where other ZeroMQ ends still work (a host, this test run) shuts ZeroMQ
    /// down on its way out. That once terminated the global context under them, and the next event on a poller's thread
    /// threw TerminatingException and ended the process (CI, device tests); NetMQ's own stop signal throws it too, so
    /// no handler of ours can catch it. Shutdown now waits for the last open end (with it waiving that, this test
    /// crashes the test host).
    /// </summary>
    [Fact]
    public async Task Shutdown_WhileEndsAreOpen_LeavesThemWorking()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(TransportCatalog.Default.ReleaseIdle());

        for (int i = 1; i < 10; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        List<TensorBatch> batches = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), batches.Select(b => b.Sequence));
        batches.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task Credits_BoundTheBatchesInFlight()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);

        // The reader grants two credits on joining; nobody consumes yet. Two batches go out, two more wait unsent.
        for (int i = 0; i < 4; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        Task third = writer.WriteAsync(Batch(4)).AsTask();
        // Settled with two batches at the reader and two held unsent: from here only an acknowledgement frees room.
        await Eventually.TrueAsync(() => reader.Batches == 2 && writer.Settled.Unsent == 2, "two batches at the reader and two held by the loader");
        Assert.False(third.IsCompleted, "the loader took a fifth batch with two in flight and two waiting");

        await using IAsyncEnumerator<TensorBatch> e = reader.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await e.MoveNextAsync());
        e.Current.Dispose();
        Assert.True(await e.MoveNextAsync()); // taking the second batch acknowledges the first, which returns its credit
        e.Current.Dispose();
        await third.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task TwoConsumers_ShareTheStreamWithoutDuplicatesOrLoss()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var a = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        await using var b = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        Task<List<TensorBatch>> readA = Collect.AllAsync(a.ReadAllAsync());
        Task<List<TensorBatch>> readB = Collect.AllAsync(b.ReadAllAsync());
        await Eventually.TrueAsync(() => writer.Consumers >= 2, "2 consumers joined");

        for (int i = 0; i < 40; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        List<TensorBatch> fromA = await readA.WaitAsync(TimeSpan.FromSeconds(30));
        List<TensorBatch> fromB = await readB.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), fromA.Concat(fromB).Select(x => x.Sequence).Order());
        Assert.NotEmpty(fromA);
        Assert.NotEmpty(fromB);
        fromA.Concat(fromB).ToList().ForEach(x => x.Dispose());
    }

    /// <summary>
    /// A consumer stopped (Ctrl+C, SIGTERM) with batches queued takes none of them: only the batch it finished is
    /// acknowledged, and the queued ones go to another consumer, each sequence once.
    /// </summary>
    [Fact]
    public async Task Cancelled_TheReaderTakesNoFurtherBatch_AndItsQueuedOnesGoToAnother()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        var stopping = new ZeroMqBatchReader(writer.BoundEndpoint, window: 4, options: Slow with { Name = "stopping" });
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 12; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        using var cancel = new CancellationTokenSource();
        long taken;
        await using (IAsyncEnumerator<TensorBatch> batches = stopping.ReadAllAsync(cancel.Token).GetAsyncEnumerator(cancel.Token))
        {
            Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
            taken = batches.Current.Sequence;
            batches.Current.Dispose();
            await Eventually.TrueAsync(() => stopping.Batches >= 3, "more batches queued at the stopping consumer");
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await batches.MoveNextAsync());
        }
        await using var other = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow with { Name = "other" });
        await Eventually.TrueAsync(() => writer.Consumers >= 2, "the other consumer joined");
        await stopping.DisposeAsync();
        List<TensorBatch> rest = await Collect.AllAsync(other.ReadAllAsync(), timeoutSeconds: 30);
        await sending.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), rest.Select(b => b.Sequence).Append(taken).Order());
        Assert.Equal(1, writer.Report.ByConsumer["stopping"]);
        rest.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task LoaderFailure_ReachesTheConsumerWithItsMessage()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 4, options: Slow);
        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync());
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        await writer.CompleteAsync(new InvalidDataException("dump.json.gz: line 7: malformed")).AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        IOException error = await Assert.ThrowsAsync<IOException>(() => reading.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("dump.json.gz: line 7: malformed", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The loader fails before its device has joined (a bad file found while the device still starts): it waits for the
    /// expected consumer, up to the peer timeout, and the consumer hears why instead of finding no loader.
    /// </summary>
    [Fact]
    public async Task LoaderFailsBeforeTheConsumerJoins_TheConsumerStillHearsWhy()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Slow);
        Task failing = writer.CompleteAsync(new InvalidDataException("cut.jsonl.gz: offset 512: the gzip stream ends early")).AsTask();
        await Task.Delay(300);
        Assert.False(failing.IsCompleted, "the failed loader ended before its expected consumer joined");

        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 4, options: Slow);
        IOException error = await Assert.ThrowsAsync<IOException>(() => Collect.AllAsync(reader.ReadAllAsync()).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("cut.jsonl.gz: offset 512", error.Message, StringComparison.Ordinal);
        await failing.WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>A failed loader whose consumer never comes waits no longer than the peer timeout.</summary>
    [Fact]
    public async Task LoaderFailsAndNoConsumerComes_ItEndsAfterThePeerTimeout()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(1) });
        await writer.CompleteAsync(new InvalidDataException("bad input")).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, writer.Consumers);
    }

    /// <summary>
    /// A write waiting for room when the last consumer leaves fails: the slots given back as the stream stops never let
    /// it through. Many times over, eight at once, since it once passed a batch to a stopped stream when its thread
    /// woke before the stop was visible.
    /// </summary>
    [Fact]
    public async Task LastConsumerLeaves_LoaderStopsWaitingForCredit()
    {
        for (int round = 0; round < 10; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(LeaveWhileAWriteWaitsAsync)));
        }

        static async Task LeaveWhileAWriteWaitsAsync()
        {
            await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
            var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 1, options: Slow);
            for (int i = 0; i < 3; i++)
            {
                await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            }
            Task blocked = writer.WriteAsync(Batch(3)).AsTask(); // one in flight, two waiting: no room left
            await Eventually.TrueAsync(() => writer.Settled == (1, 2), "one batch with the consumer and two held");
            Assert.False(blocked.IsCompleted, "a fourth batch was taken with one in flight and two waiting");

            await reader.DisposeAsync(); // says goodbye

            ReaderClosedException error = await Assert.ThrowsAsync<ReaderClosedException>(() => blocked.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Contains("every consumer has left", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, writer.LostConsumers);
            Assert.Equal(3, writer.Batches);
        }
    }

    [Fact]
    public async Task SilentLoader_IsReportedAfterTheIdleTimeoutInsteadOfHanging()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        // The reader measures silence on a clock the test moves: it hears of the timeout only when the test says so.
        var time = new FakeTimeProvider();
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(2), Time = time });

        // Joined, then the loader goes quiet for good: disposed without an end frame.
        await writer.WriteAsync(Batch(0)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        await using IAsyncEnumerator<TensorBatch> batches = reader.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        batches.Current.Dispose();
        await writer.DisposeAsync();

        ValueTask<bool> next = batches.MoveNextAsync();
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(next.IsCompleted, "the reader gave up on its loader before the timeout");
        time.Advance(TimeSpan.FromSeconds(0.2));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IOException error = await Assert.ThrowsAsync<IOException>(() => next.AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("nothing from the loader for 2.1 s", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"noticed {clock.Elapsed.TotalSeconds:0.0} s after the timeout");
    }

    /// <summary>A window of a billion in a HELLO is granted the loader's maximum (64), not a billion batches of memory.</summary>
    [Fact]
    public async Task HugeWindow_IsCappedAtTheLoadersMaximum()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Slow);
        using var greedy = new RawConsumer(writer.BoundEndpoint, window: 1_000_000_000);
        await Eventually.TrueAsync(() => writer.Consumers >= 1, "the greedy consumer joined");
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
        });

        // 64 sent on credit, 2 held in the unsent slots: the loader took 66 and waits for an acknowledgement.
        await Eventually.TrueAsync(() => writer.Batches == 66 && writer.Settled == (1, 2), "64 batches in flight and 2 held");
        Assert.False(sending.IsCompleted, "the loader sent more than its maximum window to one consumer");
        Assert.Equal(66, writer.Batches);
    }

    /// <summary>A peer's oversized message closes its connection before the loader reads it; a good consumer gets every batch.</summary>
    [Fact]
    public async Task OversizedMessage_ClosesThatPeer_TheGoodConsumerGetsEveryBatch()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", Slow);
        using (var flood = new NetMQ.Sockets.DealerSocket())
        {
            flood.Options.Linger = TimeSpan.FromSeconds(1);
            flood.Connect(writer.BoundEndpoint);
            flood.SendMoreFrame("HELLO").SendMoreFrame("2").SendMoreFrame("3").SendFrame(new byte[1 << 20]); // a name of 1 MiB
            await using var good = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
            Task<List<TensorBatch>> reading = Collect.AllAsync(good.ReadAllAsync(), timeoutSeconds: 30);
            await Eventually.TrueAsync(() => writer.Consumers >= 1, "the good consumer joined");
            for (int i = 0; i < 20; i++)
            {
                await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            }
            await writer.CompleteAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            List<TensorBatch> batches = await reading;

            Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), batches.Select(b => b.Sequence));
            Assert.Equal(1, writer.Consumers); // the flood never joined
            batches.ForEach(b => b.Dispose());
        }
    }

    [Fact]
    public async Task OtherProtocolVersion_IsRefusedWithAMessage()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        using var old = new RawConsumer(writer.BoundEndpoint, version: "1");

        List<byte[]>? reply = await Task.Run(() => old.Receive(TimeSpan.FromSeconds(20)));

        Assert.NotNull(reply);
        var header = RawConsumer.HeaderOf(reply![0]);
        Assert.True(header.IsError);
        Assert.Contains("protocol version 1", header.Metadata["message"], StringComparison.Ordinal);
        Assert.Equal(0, writer.Consumers);
    }

    [Fact]
    public async Task ConsumerDies_ItsUnacknowledgedWindowGoesToAnother_EachSequenceOnce()
    {
        var options = new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(2) };
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", options);
        var dead = new RawConsumer(writer.BoundEndpoint, window: 3);
        await Eventually.TrueAsync(() => writer.Consumers >= 1, "1 consumer joined");
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 30; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        // The doomed consumer takes its window of three and dies holding them.
        var held = new List<long>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(RawConsumer.SequenceOf((await Task.Run(() => dead.Receive(TimeSpan.FromSeconds(20))))![0]));
        }
        dead.Dispose();
        await using var alive = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: options);
        List<TensorBatch> received = await Collect.AllAsync(alive.ReadAllAsync(), timeoutSeconds: 30);
        await sending.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), received.Select(b => b.Sequence).Order());
        Assert.Subset(received.Select(b => b.Sequence).ToHashSet(), held.ToHashSet());
        ZeroMqReport report = writer.Report;
        Assert.Equal(1, report.Lost);
        Assert.Equal(3, report.Redelivered);
        Assert.Equal(30, report.Acknowledged);
        Assert.Equal(0, report.Undeliverable);
        Assert.Equal("30", alive.EndTotals!["total"]);
        received.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task ConsumerLeavesWithBatchesQueued_TheyGoToTheOther_NoneTwice()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", new ZeroMqOptions { ExpectConsumers = 2 });
        var leaving = new ZeroMqBatchReader(writer.BoundEndpoint, window: 4, options: Slow);
        await using var staying = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 40; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        // Takes two, then leaves with the rest of its window queued, not acknowledged.
        var taken = new List<TensorBatch>();
        await using (IAsyncEnumerator<TensorBatch> e = leaving.ReadAllAsync().GetAsyncEnumerator())
        {
            for (int i = 0; i < 2 && await e.MoveNextAsync(); i++)
            {
                taken.Add(e.Current);
            }
            // On a loaded machine the rest of its window may still be on the way: leave only once some is queued here.
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (leaving.Batches < 3 && waited.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(10);
            }
        }
        await leaving.DisposeAsync();
        List<TensorBatch> rest = await Collect.AllAsync(staying.ReadAllAsync(), timeoutSeconds: 30);
        await sending.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), taken.Concat(rest).Select(b => b.Sequence).Order());
        Assert.Equal(0, writer.Report.Lost);
        Assert.True(writer.Report.Redelivered >= 1, $"redelivered {writer.Report.Redelivered}");
        taken.Concat(rest).ToList().ForEach(b => b.Dispose());
    }

    private static string Command(List<byte[]> message) => message[0].Length < 8 ? System.Text.Encoding.ASCII.GetString(message[0]) : "frame";

    [Fact]
    public async Task Drained_AConsumerThatAskedIsToldWhenOthersHoldTheRest_ThenStillGetsABatchSentAgain_AndTheEnd()
    {
        // Three lockstep-style consumers of one batch each: A asked to be told DRAINED, C did not, B holds its batch.
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", new ZeroMqOptions { ExpectConsumers = 3 });
        using var a = new RawConsumer(writer.BoundEndpoint, window: 1, features: "future-feature, drained");
        using var b = new RawConsumer(writer.BoundEndpoint, window: 1);
        using var c = new RawConsumer(writer.BoundEndpoint, window: 1);
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 3; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        var timeout = TimeSpan.FromSeconds(20);
        long first = RawConsumer.SequenceOf((await Task.Run(() => a.Receive(timeout)))![0]);
        long held = RawConsumer.SequenceOf((await Task.Run(() => b.Receive(timeout)))![0]);
        long third = RawConsumer.SequenceOf((await Task.Run(() => c.Receive(timeout)))![0]);
        Assert.Equal([0L, 1L, 2L], new[] { first, held, third }.Order());

        a.Ack(first);
        List<byte[]> drained = (await Task.Run(() => a.Receive(timeout)))!;
        Assert.Equal(["DRAINED", "2"], drained.Select(f => System.Text.Encoding.ASCII.GetString(f)));
        c.Ack(third);
        Assert.Null(await Task.Run(() => c.Receive(TimeSpan.FromMilliseconds(800)))); // C did not ask: nothing, as before
        Assert.False(sending.IsCompleted, "the stream ended with a batch unacknowledged");

        // B leaves without acknowledging: its batch goes to A or C, drained or not, and then the stream ends for both.
        b.Bye();
        long[] ends = await Task.WhenAll(new[] { a, c }.Select(consumer => Task.Run(() =>
        {
            while (true)
            {
                List<byte[]> message = consumer.Receive(timeout) ?? throw new TimeoutException("no end frame");
                Assert.NotEqual("DRAINED", Command(message)); // all is acknowledged from here: the end, not DRAINED
                var header = RawConsumer.HeaderOf(message[0]);
                if (header.IsEnd)
                {
                    return long.Parse(header.Metadata["batches"], System.Globalization.CultureInfo.InvariantCulture);
                }
                Assert.Equal(held, RawConsumer.SequenceOf(message[0]));
                consumer.Ack(held);
            }
        })));
        await sending.WaitAsync(timeout);

        Assert.Equal(3, ends.Sum());
        Assert.Equal(3, writer.Report.Acknowledged);
        Assert.Equal(1, writer.Report.Redelivered);
        Assert.Equal(0, writer.Report.Returned);
    }

    [Fact]
    public async Task EveryConsumerLost_TheirBatchesAreCountedUndeliverable_AndTheLoaderFails()
    {
        var time = new FakeTimeProvider();
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", new ZeroMqOptions { PeerTimeout = TimeSpan.FromMilliseconds(500), Time = time });
        var dead = new RawConsumer(writer.BoundEndpoint, window: 2);
        for (int i = 0; i < 2; i++)
        {
            await writer.WriteAsync(Batch(i)).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        Assert.NotNull(await Task.Run(() => dead.Receive(TimeSpan.FromSeconds(20))));
        dead.Dispose();

        // The consumer's silence passes the timeout only when the writer's clock is moved past it; then the writer
        // waits one more timeout for another consumer to take the dead one's batches before it gives up on them.
        Task completing = writer.CompleteAsync().AsTask();
        time.Advance(TimeSpan.FromMilliseconds(600));
        // Settled after that tick: the consumer dropped, its two batches held for another, the wait for one begun
        // (the clock must not move on before the writer has noted when that wait began).
        await Eventually.TrueAsync(() => writer.LostConsumers == 1 && writer.Settled == (0, 2), "the silent consumer dropped and its batches held");
        Assert.False(completing.IsCompleted, "the loader gave up on the batches as soon as their consumer was lost");
        time.Advance(TimeSpan.FromMilliseconds(600));
        IOException error = await Assert.ThrowsAsync<IOException>(() => completing.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("could not be delivered", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, writer.Report.Undeliverable);
        Assert.Equal(1, writer.Report.Lost);
    }

    [Fact]
    public async Task LongStep_HeartbeatsKeepTheConsumer_AndSilentConsumersAreDropped()
    {
        // Both ends measure time on one clock that the test moves: a step is the clock moved on by a heartbeat at a
        // time, each time until the loader has heard the consumer's heartbeat.
        var time = new FakeTimeProvider();
        var quick = new ZeroMqOptions { PeerTimeout = TimeSpan.FromSeconds(1.5), Time = time };
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", quick);
        await using var reader = new ZeroMqBatchReader(writer.BoundEndpoint, window: 1, options: quick);
        await Eventually.TrueAsync(() => writer.Consumers >= 1, "1 consumer joined");
        // Beside it, a consumer that joins and then never says anything again: no heartbeat, no acknowledgement.
        using var silent = new RawConsumer(writer.BoundEndpoint, window: 1);
        await Eventually.TrueAsync(() => writer.Consumers >= 2, "2 consumers joined");
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 3; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        var seen = new List<long>();
        await foreach (TensorBatch batch in reader.ReadAllAsync())
        {
            using (batch)
            {
                seen.Add(batch.Sequence);
                for (int beat = 0; beat < 12; beat++) // a step of 3.6 s, over twice the timeout
                {
                    long heard = writer.Heard;
                    time.Advance(quick.Heartbeat);
                    await Eventually.TrueAsync(() => writer.Heard > heard, $"the loader heard the consumer's heartbeat (step {seen.Count}, beat {beat}, heard {writer.Heard}, lost {writer.LostConsumers}, settled {writer.Settled}, reader {reader.Batches})");
                }
            }
        }
        await sending.WaitAsync(TimeSpan.FromSeconds(20));

        // The stepping consumer was kept through steps of over twice the timeout; the silent one was dropped, and
        // the batch it held (if it got one) went to the other: every batch once.
        Assert.Equal([0L, 1L, 2L], seen.Order());
        Assert.Equal(1, writer.Report.Lost);
        Assert.Equal(3, writer.Report.Acknowledged);
        Assert.Equal(0, writer.Report.Undeliverable);
        Assert.Equal(1, writer.LostConsumers);
    }

    [Fact]
    public async Task ExpectConsumers_NothingFlowsBeforeTheyJoin_AndAFirstOneLeavingDoesNotEndTheStream()
    {
        await using var writer = new ZeroMqBatchWriter("tcp://127.0.0.1:*", new ZeroMqOptions { ExpectConsumers = 2 });
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                await writer.WriteAsync(Batch(i));
            }
            await writer.CompleteAsync();
        });
        var first = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        await Eventually.TrueAsync(() => writer.Consumers >= 1, "1 consumer joined");
        // The loader has settled with the first consumer connected and both of its unsent slots full, and sent it nothing.
        await Eventually.TrueAsync(() => writer.Settled == (1, 2), "one consumer connected and two batches held");
        Assert.Equal(0, first.Batches);
        await first.DisposeAsync(); // leaves before the second has joined
        await Eventually.TrueAsync(() => writer.Settled == (0, 2), "the first consumer's goodbye handled, the batches still held");
        Assert.False(sending.IsCompleted, "the stream ended before the second consumer joined");

        await using var second = new ZeroMqBatchReader(writer.BoundEndpoint, window: 2, options: Slow);
        List<TensorBatch> all = await Collect.AllAsync(second.ReadAllAsync(), timeoutSeconds: 30);
        await sending.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), all.Select(b => b.Sequence));
        all.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task NoLoader_IsReportedWithinThePeerTimeout()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        var time = new FakeTimeProvider();
        await using var reader = new ZeroMqBatchReader($"tcp://127.0.0.1:{port}", window: 2, options: new ZeroMqOptions { PeerTimeout = TimeSpan.FromMilliseconds(500), Time = time });

        Task<List<TensorBatch>> reading = Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 20);
        time.Advance(TimeSpan.FromMilliseconds(600));
        IOException error = await Assert.ThrowsAsync<IOException>(() => reading);
        Assert.Contains("no loader answered within 0.6 s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralLoaders_OneDeviceReadsBoth_EndsWhenEveryOneHasEnded()
    {
        await using var a = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using var b = new ZeroMqBatchWriter("tcp://127.0.0.1:*");
        await using IBatchReader reader = await TransportCatalog.Default.OpenReaderAsync($"{a.BoundEndpoint},{b.BoundEndpoint}", new TransportEndOptions(2, Slow));
        Task sendA = Task.Run(async () => { for (int i = 0; i < 10; i++) { await a.WriteAsync(Batch(i)); } await a.CompleteAsync(); });
        Task sendB = Task.Run(async () => { for (int i = 100; i < 115; i++) { await b.WriteAsync(Batch(i)); } await Task.Delay(300); await b.CompleteAsync(); });

        List<TensorBatch> all = await Collect.AllAsync(reader.ReadAllAsync(), timeoutSeconds: 30);
        await Task.WhenAll(sendA, sendB).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(Enumerable.Range(0, 10).Concat(Enumerable.Range(100, 15)).Select(i => (long)i), all.Select(x => x.Sequence).Order());
        all.ForEach(x => x.Dispose());
    }
}

public sealed class SequenceRangesTests
{
    [Fact]
    public void Add_InAnyOrder_KeepsDisjointRanges_AndRefusesARepeat()
    {
        var ranges = new SequenceRanges();
        long[] order = [5, 6, 7, 0, 2, 1, 9, 3, 12, 11];
        foreach (long s in order)
        {
            Assert.True(ranges.Add(s));
        }
        Assert.False(ranges.Add(6));
        Assert.Equal("0-3,5-7,9,11-12", ranges.ToString());
        Assert.Equal(order.Order(), SequenceRanges.Parse(ranges.ToString()));
        Assert.Equal(order.Length, ranges.Count);
    }

    [Fact]
    public void Add_RandomOrder_MatchesASet()
    {
        var random = new Random(7);
        var ranges = new SequenceRanges();
        var set = new HashSet<long>();
        for (int i = 0; i < 3000; i++)
        {
            long s = random.Next(0, 2000);
            Assert.Equal(set.Add(s), ranges.Add(s));
        }
        Assert.Equal(set.Order(), SequenceRanges.Parse(ranges.ToString()));
    }
}
