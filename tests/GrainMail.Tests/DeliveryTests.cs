using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using GrainMail.Tests.Infrastructure;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// Durable stream delivery on real PostgreSQL: 1,000 messages to 100 mailboxes arrive exactly
/// once each, with strictly increasing UIDs, also when a silo dies in the middle.
/// </summary>
public sealed class DeliveryTests(PostgresServer pg)
{
    private const int MailboxCount = 100;
    private const int MessageCount = 1000;

    [Fact]
    public async Task Thousand_messages_to_hundred_mailboxes_arrive_exactly_once()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("dlv"));
        await RunAsync(cluster, killAfter: null);
    }

    [Fact]
    public async Task A_silo_killed_mid_run_loses_and_duplicates_nothing()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("dlvkill"), silos: 3);
        await RunAsync(cluster, killAfter: MessageCount / 3);
    }

    /// <summary>
    /// A mailbox that falls behind gets its queued events in one call and places them in one
    /// transaction. A backlog must still arrive whole, once each, in contiguous UIDs; and a batch
    /// holding an event that was already placed (an operator's redelivery, say) drops exactly that
    /// one, with the blob's reference count kept right.
    /// </summary>
    [Fact]
    public async Task A_backlog_for_one_mailbox_is_placed_together_once_each_and_a_duplicate_in_it_is_dropped()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = await pg.NewDatabaseAsync("dlvbatch");
        await using var cluster = await TestSilos.StartAsync(db);
        var batched = 0;
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = s => s.Name == GrainMail.Operations.GrainMailTracing.SourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) =>
                System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                if (a.OperationName == "grainmail.deliver" && a.GetTagItem("grainmail.batch") is int n && n > 1) Interlocked.Increment(ref batched);
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        var domain = cluster.Client.GetGrain<IDomainGrain>("backlog.test");
        await domain.Create(DomainSettings.Default("local"));
        Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount("busy", "password1", null, null))).Status);
        const string to = "busy@backlog.test";
        var submitter = cluster.Service<MessageSubmitter>();
        const int backlog = 150;
        await Parallel.ForEachAsync(Enumerable.Range(0, backlog), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => await submitter.SubmitAsync(new Submission("sender@else.where", [to], Messages.OfSize("sender@else.where", to, 2048, i)), token));
        var mailbox = cluster.Client.GetGrain<IMailboxGrain>(to);
        await Eventually.Value(async () => (await mailbox.GetQuota()).Messages, n => n >= backlog, TimeSpan.FromMinutes(1), "the backlog placed", ct);
        var inbox = await mailbox.GetMessages("INBOX", 1, long.MaxValue);
        Assert.Equal(Enumerable.Range(1, backlog).Select(i => (long)i), inbox.Select(m => m.Uid));
        Assert.Equal(backlog, inbox.Select(m => Convert.ToHexString(m.Blob.Hash)).Distinct().Count());
        Assert.True(batched > 0, "no delivery placed more than one message: the backlog never met the batched path");

        // The same event again (same delivery id) queued together with five new ones for the same blob.
        await using var conn = new Npgsql.NpgsqlConnection(db);
        await conn.OpenAsync(ct);
        await using var q = new Npgsql.NpgsqlCommand(
            "SELECT delivery_id, blob_domain, blob_hash, size FROM mailbox_message WHERE mailbox = @a ORDER BY uid LIMIT 1", conn);
        q.Parameters.AddWithValue("a", to);
        Guid placed;
        string blobDomain;
        byte[] blobHash;
        long size;
        await using (var r = await q.ExecuteReaderAsync(ct))
        {
            Assert.True(await r.ReadAsync(ct));
            (placed, blobDomain, blobHash, size) = (r.GetGuid(0), r.GetString(1), (byte[])r[2], r.GetInt64(3));
        }
        async Task<long> RefCount()
        {
            await using var c = new Npgsql.NpgsqlCommand("SELECT refcount FROM blob WHERE domain = @d AND hash = @h", conn);
            c.Parameters.AddWithValue("d", blobDomain);
            c.Parameters.AddWithValue("h", blobHash);
            return (long)(await c.ExecuteScalarAsync(ct))!;
        }
        var refsBefore = await RefCount();
        var codec = cluster.Service<GrainMail.Storage.Delivery.EventCodec>();
        var mapper = cluster.Service<GrainMail.Storage.Streams.PgStreamQueueMapper>();
        var partition = mapper.PartitionOf(Orleans.Runtime.StreamId.Create(GrainMail.Contracts.Delivery.DeliveryStreams.Inbound, to));
        GrainMail.Storage.Streams.OutgoingEvent Event(Guid id) => new(partition, GrainMail.Contracts.Delivery.DeliveryStreams.Inbound, to,
            codec.Encode(new GrainMail.Contracts.Delivery.DeliveryEvent(id, 0, to, "sender@else.where", blobDomain, blobHash, size, DateTimeOffset.UtcNow, null, 0)));
        var events = new[] { Event(placed) }.Concat(Enumerable.Range(0, 5).Select(_ => Event(Guid.CreateVersion7()))).ToList();
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            // Each queued event holds one reference to its blob, as the submitter's do.
            await GrainMail.Storage.Blobs.BlobStore.AdjustReferencesAsync(conn, tx, [(blobDomain, blobHash, events.Count)], ct);
            await GrainMail.Storage.Streams.StreamQueueStore.EnqueueAsync(conn, events, ct);
            await tx.CommitAsync(ct);
        }
        await Eventually.Value(async () => (await mailbox.GetQuota()).Messages, n => n >= backlog + 5, TimeSpan.FromMinutes(1), "five more", ct);
        await Eventually.Until(async () =>
        {
            await using var c = new Npgsql.NpgsqlCommand("SELECT count(*) FROM stream_queue WHERE stream_key = @a", conn);
            c.Parameters.AddWithValue("a", to);
            return (long)(await c.ExecuteScalarAsync(ct))! == 0;
        }, TimeSpan.FromSeconds(30), "the duplicate consumed", ct);
        inbox = await mailbox.GetMessages("INBOX", 1, long.MaxValue);
        Assert.Equal(backlog + 5, inbox.Count);
        Assert.Equal(Enumerable.Range(1, backlog + 5).Select(i => (long)i), inbox.Select(m => m.Uid));
        // Five new messages keep their references; the duplicate gave its one back.
        Assert.Equal(refsBefore + 5, await RefCount());
    }

    private static async Task RunAsync(InProcessTestCluster cluster, int? killAfter)
    {
        var ct = TestContext.Current.CancellationToken;
        var domain = cluster.Client.GetGrain<IDomainGrain>("bulk.test");
        await domain.Create(DomainSettings.Default("local"));
        var mailboxes = Enumerable.Range(0, MailboxCount).Select(i => $"m{i:D3}@bulk.test").ToList();
        await Parallel.ForEachAsync(mailboxes, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (a, _) =>
            Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount(a.Split('@')[0], "password1", null, null))).Status));

        var submitter = cluster.Service<MessageSubmitter>();
        var expected = mailboxes.ToDictionary(m => m, _ => new List<string>());
        var rnd = new Random(42);
        var plan = Enumerable.Range(0, MessageCount).Select(i =>
        {
            var n = 1 + rnd.Next(3);
            var to = Enumerable.Range(0, n).Select(_ => mailboxes[rnd.Next(MailboxCount)]).Distinct().ToList();
            return (Raw: Messages.OfSize("sender@else.where", string.Join(", ", to), 4096, i), To: to);
        }).ToList();
        foreach (var (raw, to) in plan)
        {
            foreach (var m in to) expected[m].Add(Convert.ToHexString(GrainMail.Storage.Blobs.BlobStore.Hash(raw)));
        }

        var submitted = 0;
        var killed = false;
        await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (p, token) =>
        {
            await submitter.SubmitAsync(new Submission("sender@else.where", p.To, p.Raw), token);
            if (Interlocked.Increment(ref submitted) == killAfter && !killed)
            {
                killed = true;
                // The first silo hosts the test's own services; kill another one.
                await cluster.KillSiloAsync(cluster.Silos[^1]);
            }
        });
        Assert.Equal(killAfter is not null, killed);

        var total = expected.Values.Sum(v => v.Count);
        async Task<long> Delivered()
        {
            long sum = 0;
            foreach (var m in mailboxes) sum += (await cluster.Client.GetGrain<IMailboxGrain>(m).GetQuota()).Messages;
            return sum;
        }
        // One check is a hundred grain calls: every 500 ms is often enough and leaves the silos to deliver.
        var delivered = await Eventually.Value(Delivered, d => d >= total, TimeSpan.FromMinutes(3), $"{total} deliveries", ct, poll: TimeSpan.FromMilliseconds(500));
        Assert.Equal(total, delivered);

        foreach (var m in mailboxes)
        {
            var inbox = await cluster.Client.GetGrain<IMailboxGrain>(m).GetMessages("INBOX", 1, long.MaxValue);
            var got = inbox.Select(x => Convert.ToHexString(x.Blob.Hash)).Order().ToList();
            Assert.Equal(expected[m].Order().ToList(), got);
            for (var i = 1; i < inbox.Count; i++) Assert.True(inbox[i].Uid > inbox[i - 1].Uid);
        }
    }
}
