using GrainMail.Operations.Spool;
using System.Diagnostics;
using System.Text;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Streams;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

public sealed class BlobStoreTests(PostgresServer pg)
{
    private static readonly MasterKey Key = new(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());

    private static (NpgsqlDataSource Ds, BlobStore Blobs, MessageSubmitter Submitter) Open(string cs)
    {
        var ds = NpgsqlDataSource.Create(cs);
        var blobs = new BlobStore(ds, new KeyRing(ds, Key));
        return (ds, blobs, new MessageSubmitter(ds, blobs, new EventCodec(), new PgStreamQueueMapper(4)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(BlobStore.ChunkSize)]
    [InlineData(BlobStore.ChunkSize * 3 + 17)]
    [InlineData(BlobStore.ChunkSize * 5 + 3)] // over 1 MiB: streamed with COPY instead of one INSERT
    public async Task Raw_bytes_come_back_byte_identical(int size)
    {
        var (ds, blobs, _) = Open(await pg.NewDatabaseAsync("blob"));
        await using var _ds = ds;
        var raw = new byte[size];
        new Random(size).NextBytes(raw);
        var hash = BlobStore.Hash(raw);
        await using (var conn = await ds.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            Assert.True(await blobs.AddReferencesAsync(conn, tx, "example.com", hash, raw, 1));
            await tx.CommitAsync();
        }
        Assert.Equal(raw, await blobs.ReadAsync("example.com", hash));
    }

    [Fact]
    public async Task A_byte_range_reads_only_what_it_asks_for_across_chunks_of_every_size()
    {
        var (ds, blobs, _) = Open(await pg.NewDatabaseAsync("blobrange"));
        await using var _ds = ds;
        // A gateway-style message: a small head, then a spooled body whose frames make chunks of
        // other sizes than 256 KiB — a range must be found by the chunks' real lengths.
        var head = new byte[1000];
        var body = new byte[BlobStore.ChunkSize * 2 + 12345];
        new Random(7).NextBytes(head);
        new Random(8).NextBytes(body);
        using var spool = new MessageSpool(Path.GetTempPath(), memoryLimit: 64 * 1024);
        System.Buffers.BuffersExtensions.Write(spool, body);
        var content = new MessageContent(head, spool);
        var raw = await content.ToArrayAsync();
        var hash = BlobStore.Hash(raw);
        await using (var conn = await ds.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            Assert.True(await blobs.AddReferencesAsync(conn, tx, "example.com", hash, content, 1));
            await tx.CommitAsync();
        }
        foreach (var (offset, count) in new (long, int)[] { (0, 10), (995, 10), (999, 2), (70_000, 200_000), (BlobStore.ChunkSize - 5, 10),
            (raw.Length - 3, 100), (0, raw.Length), (raw.Length, 5), (raw.Length + 100, 5), (5, 0) })
        {
            var expected = raw.Skip((int)Math.Min(offset, raw.Length)).Take(count).ToArray();
            Assert.Equal(expected, await blobs.ReadRangeAsync("example.com", hash, offset, count));
        }
        Assert.Null(await blobs.ReadRangeAsync("example.com", new byte[32], 0, 10));
    }

    [Fact]
    public async Task One_message_to_fifty_mailboxes_is_stored_once_and_freed_with_the_last_reference()
    {
        var (ds, blobs, submitter) = Open(await pg.NewDatabaseAsync("blob50"));
        await using var _ds = ds;
        var raw = Messages.OfSize("a@example.com", "list@example.com", 600_000, 1);
        var recipients = Enumerable.Range(0, 50).Select(i => $"user{i}@example.com").ToList();
        await submitter.SubmitAsync(new Submission("a@example.com", recipients, raw));

        await using (var cmd = ds.CreateCommand("SELECT count(*), min(refcount) FROM blob"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            await r.ReadAsync();
            Assert.Equal(1, r.GetInt64(0));
            Assert.Equal(50, r.GetInt64(1));
        }
        Assert.Equal(3L, await Scalar(ds, "SELECT count(*) FROM blob_chunk"));
        Assert.Equal(50L, await Scalar(ds, "SELECT count(*) FROM stream_queue"));

        var hash = BlobStore.Hash(raw);
        await using (var conn = await ds.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await BlobStore.AdjustReferencesAsync(conn, tx, Enumerable.Range(0, 49).Select(_ => ("example.com", hash, -1L)));
            await tx.CommitAsync();
        }
        Assert.Equal(raw, await blobs.ReadAsync("example.com", hash));
        await using (var conn = await ds.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await BlobStore.AdjustReferencesAsync(conn, tx, [("example.com", hash, -1L)]);
            await tx.CommitAsync();
        }
        Assert.Null(await blobs.ReadAsync("example.com", hash));
        Assert.Equal(0L, await Scalar(ds, "SELECT count(*) FROM blob_chunk"));
    }

    [Fact]
    public async Task A_batch_with_the_same_blob_twice_and_an_existing_one_writes_each_once_and_counts_every_reference()
    {
        var (ds, blobs, _) = Open(await pg.NewDatabaseAsync("blobbatch"));
        await using var _ds = ds;
        var a = Messages.OfSize("x@y.org", "a@example.com", 300_000, 1);
        var b = Messages.OfSize("x@y.org", "b@example.com", 1000, 2);
        async Task<int> Write(IReadOnlyList<BlobWrite> writes)
        {
            await using var conn = await ds.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            var created = await blobs.AddReferencesAsync(conn, tx, writes);
            await tx.CommitAsync();
            return created;
        }
        Assert.Equal(1, await Write([new BlobWrite("example.com", BlobStore.Hash(b), b, 1)]));
        Assert.Equal(1, await Write([
            new BlobWrite("example.com", BlobStore.Hash(a), a, 2),
            new BlobWrite("example.com", BlobStore.Hash(b), b, 1),
            new BlobWrite("example.com", BlobStore.Hash(a), a, 3),
        ]));
        await using (var cmd = ds.CreateCommand("SELECT size, refcount FROM blob ORDER BY size"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal((b.Length, 2L), (r.GetInt64(0), r.GetInt64(1)));
            Assert.True(await r.ReadAsync());
            Assert.Equal((a.Length, 5L), (r.GetInt64(0), r.GetInt64(1)));
        }
        Assert.Equal(3L, await Scalar(ds, "SELECT count(*) FROM blob_chunk")); // 2 chunks of a, 1 of b
        Assert.Equal(a, await blobs.ReadAsync("example.com", BlobStore.Hash(a)));
        Assert.Equal(b, await blobs.ReadAsync("example.com", BlobStore.Hash(b)));
    }

    [Fact]
    public async Task Subject_and_body_appear_nowhere_in_the_database()
    {
        var cs = await pg.NewDatabaseAsync("blobclear");
        var (ds, _, submitter) = Open(cs);
        await using var _ds = ds;
        const string subject = "Quarterly figures Zanzibar-7781";
        const string body = "The password for the vault is pelican-orchid-4410";
        var raw = Messages.Simple("a@example.com", "b@example.com", subject, body);
        await submitter.SubmitAsync(new Submission("a@example.com", ["b@example.com", "c@example.com"], raw));

        // A plain-text dump of every table, as a database operator would see it.
        var b = new NpgsqlConnectionStringBuilder(cs);
        var psi = new ProcessStartInfo(Path.Combine(GrainMail.Storage.Database.EmbeddedPostgres.FindBinaries()!, "pg_dump"))
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-h", b.Host!, "-p", b.Port.ToString(), "-U", b.Username!, "-d", b.Database!, "--data-only" }) psi.ArgumentList.Add(a);
        psi.Environment["PGPASSWORD"] = b.Password;
        using var proc = Process.Start(psi)!;
        var dump = await proc.StandardOutput.ReadToEndAsync();
        await proc.WaitForExitAsync();
        Assert.Equal(0, proc.ExitCode);
        Assert.Contains("b@example.com", dump); // the dump is real: envelope data is visible
        foreach (var secret in new[] { subject, body, "Zanzibar", "pelican" })
        {
            Assert.DoesNotContain(secret, dump);
            Assert.DoesNotContain(Convert.ToHexString(Encoding.UTF8.GetBytes(secret)).ToLowerInvariant(), dump);
        }
    }

    [Theory]
    [InlineData(10)]
    [InlineData(2500)] // large batches go by COPY
    public async Task Queued_events_are_stored_intact_in_small_and_large_batches(int count)
    {
        var (ds, _, _) = Open(await pg.NewDatabaseAsync("queue"));
        await using var _ds = ds;
        var events = Enumerable.Range(0, count).Select(i => new OutgoingEvent(i % 4, "inbound", $"u{i}@example.com", BitConverter.GetBytes(i))).ToList();
        await new StreamQueueStore(ds).EnqueueAsync(events);
        var seen = new List<(int, string, int)>();
        await using (var cmd = ds.CreateCommand("SELECT queue_id, stream_key, payload FROM stream_queue ORDER BY id"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync()) seen.Add((r.GetInt32(0), r.GetString(1), BitConverter.ToInt32((byte[])r[2])));
        }
        Assert.Equal(events.Select((e, i) => (e.QueueId, e.StreamKey, i)), seen);
    }

    [Fact]
    public async Task DSN_parameters_are_kept_with_each_delivery_event()
    {
        var (ds, _, submitter) = Open(await pg.NewDatabaseAsync("dsn"));
        await using var _ds = ds;
        await submitter.SubmitAsync(new Submission("a@example.org", ["x@example.com", "y@example.com"], Messages.Simple("a@example.org", "x@example.com", "s", "b"),
            "RET=HDRS ENVID=q1", new Dictionary<string, string> { ["x@example.com"] = "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X@example.com" }));
        var codec = new EventCodec();
        var dsn = new Dictionary<string, string?>();
        await using (var cmd = ds.CreateCommand("SELECT id, stream_key, payload FROM stream_queue"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync()) dsn[r.GetString(1)] = ((GrainMail.Contracts.Delivery.DeliveryEvent)codec.Decode("inbound", (byte[])r[2], r.GetInt64(0), 0)).Dsn;
        }
        Assert.Equal("RET=HDRS ENVID=q1 NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X@example.com", dsn["x@example.com"]);
        Assert.Equal("RET=HDRS ENVID=q1", dsn["y@example.com"]);
        // What the DSN writer reads back for each recipient.
        var x = GrainMail.Contracts.Delivery.DsnRequest.Parse(dsn["x@example.com"]);
        Assert.Equal("q1", x.EnvelopeId);
        Assert.Equal("rfc822;X@example.com", x.Default.OriginalRecipient);
        Assert.True(x.Default.Wants(GrainMail.Contracts.Delivery.DsnNotify.Success));
        Assert.False(GrainMail.Contracts.Delivery.DsnRequest.Parse(dsn["y@example.com"]).Default.Wants(GrainMail.Contracts.Delivery.DsnNotify.Success));
    }

    private static async Task<long> Scalar(NpgsqlDataSource ds, string sql)
    {
        await using var cmd = ds.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
