using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Mailboxes;
using GrainMail.Storage.Streams;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>The one-statement delivery path: stored once, redeliveries and duplicates change nothing, a moved fence stores nothing.</summary>
public sealed class MailboxStoreTests(PostgresServer pg)
{
    private const string Box = "u@store.test";

    [Fact]
    public async Task Delivery_is_idempotent_and_fenced()
    {
        await using var ds = NpgsqlDataSource.Create(await pg.NewDatabaseAsync("mstore"));
        var blobs = new BlobStore(ds, new KeyRing(ds, new MasterKey(new byte[32])));
        var store = new MailboxStore(ds, blobs);
        await store.ProvisionAsync(Box, 1_000_000, [new FolderRow(1, "INBOX", SpecialUse.Inbox, 1, 1, 1, true, 1, 0, 0, 0)]);
        var raw = Messages.Simple("a@x.org", Box, "s", "b");
        var hash = BlobStore.Hash(raw);
        await using (var conn = await ds.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await blobs.AddReferencesAsync(conn, tx, "store.test", hash, raw, 2); // two queued events hold it
            await tx.CommitAsync();
        }
        await new StreamQueueStore(ds).EnqueueAsync([new OutgoingEvent(0, "inbound", Box, [1]), new OutgoingEvent(0, "inbound", Box, [2])]);
        var rows = new List<long>();
        await using (var cmd = ds.CreateCommand("SELECT id FROM stream_queue ORDER BY id"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync()) rows.Add(r.GetInt64(0));
        }
        var delivery = Guid.NewGuid();
        MailboxChange Change(long row, long version) => Delivery(row, hash, raw.Length, delivery, uid: version + 1);

        // A stale version is refused and consumes nothing.
        await Assert.ThrowsAsync<MailboxFencedException>(() => store.CommitAsync(Box, 5, Change(rows[0], 5)));
        Assert.Equal(2L, await Count(ds, "SELECT count(*) FROM stream_queue"));

        Assert.Equal(CommitOutcome.Committed, await store.CommitAsync(Box, 0, Change(rows[0], 0)));
        Assert.Equal(CommitOutcome.AlreadyConsumed, await store.CommitAsync(Box, 1, Change(rows[0], 1)));
        // The same delivery arriving through a second queue row: consumed, not stored twice, its blob reference released.
        Assert.Equal(CommitOutcome.AlreadyDelivered, await store.CommitAsync(Box, 1, Change(rows[1], 1)));
        Assert.Equal(1L, await Count(ds, "SELECT count(*) FROM mailbox_message"));
        Assert.Equal(0L, await Count(ds, "SELECT count(*) FROM stream_queue"));
        Assert.Equal(1L, await Count(ds, "SELECT refcount FROM blob"));
        var loaded = (await store.LoadAsync(Box))!.Value;
        Assert.Equal(1L, loaded.Mailbox.Version);
        Assert.Equal(1, loaded.Mailbox.Messages);
        Assert.Equal(2L, loaded.Folders.Single().UidNext);
    }

    [Fact]
    public async Task INTERNALDATE_zone_and_subscriptions_survive_a_reload()
    {
        await using var ds = NpgsqlDataSource.Create(await pg.NewDatabaseAsync("mzone"));
        var blobs = new BlobStore(ds, new KeyRing(ds, new MasterKey(new byte[32])));
        var store = new MailboxStore(ds, blobs);
        await store.ProvisionAsync(Box, 1_000_000,
            [new FolderRow(1, "INBOX", SpecialUse.Inbox, 1, 1, 1, true, 1, 0, 0, 0), new FolderRow(2, "Old", SpecialUse.None, 1, 1, 1, true, 1, 0, 0, 0)]);
        var raw = Messages.Simple("a@x.org", Box, "s", "b");
        var hash = BlobStore.Hash(raw);
        // RFC 3501 2.3.3: APPEND's date-time keeps its zone; the instant alone would come back in UTC.
        var given = new DateTimeOffset(2026, 2, 1, 23, 30, 0, TimeSpan.FromHours(8));
        var append = new MailboxChange { UsedBytes = raw.Length, Messages = 1, NewBlob = ("store.test", hash, new GrainMail.Operations.Spool.MessageContent(raw), 1) };
        append.Inserted.Add(new MessageRow(1, 1, "store.test", hash, raw.Length, given, MessageFlags.None, [], 2, null));
        append.FolderUpdates.Add(new FolderRow(1, "INBOX", SpecialUse.Inbox, 1, 2, 2, true, 1, 1, 1, raw.Length));
        Assert.Equal(CommitOutcome.Committed, await store.CommitAsync(Box, 0, append));
        // RFC 3501 6.3.6: a subscription outlives its folder, and a name may be subscribed that no folder has.
        var change = new MailboxChange { UsedBytes = raw.Length, Messages = 1 };
        change.FolderDeletes.Add(2);
        change.Subscribed.Add("Ghost");
        change.Unsubscribed.Add("INBOX");
        Assert.Equal(CommitOutcome.Committed, await store.CommitAsync(Box, 1, change));

        var message = (await store.LoadMessagesAsync(Box, 1)).Single();
        Assert.Equal(given, message.InternalDate);
        Assert.Equal(TimeSpan.FromHours(8), message.InternalDate.Offset);
        Assert.Equal(["Ghost", "Old"], await store.LoadSubscriptionsAsync(Box));
    }

    private static MailboxChange Delivery(long row, byte[] hash, long size, Guid delivery, long uid)
    {
        var c = new MailboxChange
        {
            ConsumeQueueRow = row,
            ConsumedReference = ("store.test", hash),
            UsedBytes = size,
            Messages = 1,
        };
        c.Inserted.Add(new MessageRow(1, uid, "store.test", hash, size, DateTimeOffset.UtcNow, MessageFlags.None, [], 2, delivery));
        c.FolderUpdates.Add(new FolderRow(1, "INBOX", SpecialUse.Inbox, 1, uid + 1, 2, true, 1, 1, 1, size));
        return c;
    }

    private static async Task<long> Count(NpgsqlDataSource ds, string sql)
    {
        await using var cmd = ds.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }
}
