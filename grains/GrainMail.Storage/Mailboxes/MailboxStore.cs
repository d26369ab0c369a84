using GrainMail.Operations.Spool;
using GrainMail.Operations;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Mailboxes;

/// <summary>A folder row as stored.</summary>
public sealed record FolderRow(
    int Id, string Name, SpecialUse SpecialUse, long UidValidity, long UidNext, long HighestModSeq,
    bool Subscribed, long RecentFrom, int Messages, int Unseen, long Bytes);

/// <summary>A message row as stored (no body: that is in the blob store).</summary>
public sealed record MessageRow(
    int FolderId, long Uid, string BlobDomain, byte[] BlobHash, long Size, DateTimeOffset InternalDate,
    MessageFlags Flags, string[] Keywords, long ModSeq, Guid? DeliveryId, DateTimeOffset? SaveDate = null, string? ThreadId = null)
{
    private MessageMeta? _meta;

    // A copy made with "with" is a different message state: it must not inherit the cached view.
    private MessageRow(MessageRow original)
    {
        FolderId = original.FolderId;
        Uid = original.Uid;
        BlobDomain = original.BlobDomain;
        BlobHash = original.BlobHash;
        Size = original.Size;
        InternalDate = original.InternalDate;
        Flags = original.Flags;
        Keywords = original.Keywords;
        ModSeq = original.ModSeq;
        DeliveryId = original.DeliveryId;
        SaveDate = original.SaveDate;
        ThreadId = original.ThreadId;
    }

    /// <summary>
    /// The contract view of this row, made once: co-hosted sessions that hold a folder's message
    /// list (IMAP SELECT, POP3) then share these immutable objects with the grain instead of
    /// each holding copies.
    /// </summary>
    public MessageMeta Meta => _meta ??= new MessageMeta(Uid, new BlobRef(BlobDomain, BlobHash, Size), InternalDate, Flags, Keywords, ModSeq, SaveDate, ThreadId);
}

/// <summary>One message leaving its folder: the removal's MODSEQ, and whether the user may restore it.</summary>
public sealed record ExpungedMessage(MessageRow Message, long UidValidity, long ModSeq, string FolderName, bool Recoverable, DateTimeOffset ExpungedAt);

/// <summary>A recoverable message (deleted-mail recovery) as <c>mailbox_expunged</c> keeps it.</summary>
public sealed record RecoverableRow(
    long Id, int FolderId, long UidValidity, string FolderName, string BlobDomain, byte[] BlobHash, long Size,
    DateTimeOffset InternalDate, MessageFlags Flags, string[] Keywords, DateTimeOffset ExpungedAt);

public sealed record MailboxRow(string Address, long Version, long QuotaBytes, long UsedBytes, int Messages, long LastUidValidity);

/// <summary>
/// Everything one mailbox operation changes, committed by <see cref="MailboxStore.CommitAsync"/>
/// in a single transaction guarded by the mailbox version (the fencing token).
/// </summary>
public sealed class MailboxChange
{
    public List<MessageRow> Inserted { get; } = [];
    public List<(int FolderId, long Uid)> Deleted { get; } = [];

    /// <summary>
    /// Messages removed from their folder that leave a row in <c>mailbox_expunged</c> (QRESYNC's
    /// VANISHED after a restart, RFC 7162 3.2.5); a recoverable one moves its blob reference there
    /// (deleted-mail recovery), so it needs no <see cref="BlobDeltas"/> entry.
    /// </summary>
    public List<ExpungedMessage> Expunged { get; } = [];

    /// <summary>Recoverable rows of <c>mailbox_expunged</c> put back by this change (their blob reference goes to the new message).</summary>
    public List<long> Restored { get; } = [];
    public List<(int FolderId, long Uid, MessageFlags Flags, string[] Keywords, long ModSeq)> FlagUpdates { get; } = [];
    /// <summary>Folders created by this change.</summary>
    public List<FolderRow> NewFolders { get; } = [];

    /// <summary>Existing folders whose row (name, counters, subscription) this change rewrites.</summary>
    public List<FolderRow> FolderUpdates { get; } = [];

    /// <summary>Names subscribed (RFC 3501 6.3.6) and unsubscribed by this change; independent of folders.</summary>
    public List<string> Subscribed { get; } = [];
    public List<string> Unsubscribed { get; } = [];
    public List<int> FolderDeletes { get; } = [];
    public List<(string Domain, byte[] Hash, long Delta)> BlobDeltas { get; } = [];

    /// <summary>The stream queue row this change consumes (delivery); its absence aborts the change.</summary>
    public long? ConsumeQueueRow { get; set; }

    /// <summary>
    /// Queue rows of several deliveries committed together (instead of <see cref="ConsumeQueueRow"/>):
    /// all are deleted or the change does not commit (<see cref="CommitOutcome.AlreadyConsumed"/>).
    /// A delivery id met twice rolls the whole change back too (<see cref="CommitOutcome.AlreadyDelivered"/>),
    /// without touching blob references; the caller then places the events one by one.
    /// </summary>
    public IReadOnlyList<long> ConsumeQueueRows { get; set; } = [];

    /// <summary>A new blob to store (with one reference per inserted message that uses it).</summary>
    public (string Domain, byte[] Hash, MessageContent Raw, int References)? NewBlob { get; set; }

    /// <summary>The new blob's headers for the domain-wide search (APPEND stores mail too, issue 17 item 7).</summary>
    public Governance.MessageSummary? NewBlobSummary { get; set; }

    /// <summary>The blob reference held by the consumed queue event, released if the event turns out to be a duplicate.</summary>
    public (string Domain, byte[] Hash)? ConsumedReference { get; set; }

    public long UsedBytes { get; set; }
    public int Messages { get; set; }
    public long LastUidValidity { get; set; }

    /// <summary>
    /// The user's verdicts this change carries (a move into or out of Junk, a $Junk/$NotJunk keyword): queued for
    /// the mailbox's learner in the same transaction (<see cref="Trust.LearnQueueStore"/>), so a move the client was
    /// told about is learned even if the silo stops before the learner runs.
    /// </summary>
    public List<(string BlobDomain, byte[] BlobHash, bool Spam)> Learn { get; } = [];
}

public enum CommitOutcome
{
    Committed,
    /// <summary>The queue row was already consumed by an earlier delivery of the same event.</summary>
    AlreadyConsumed,
    /// <summary>A message with the same delivery id is already stored.</summary>
    AlreadyDelivered,

    /// <summary>A message to restore is no longer recoverable (purged, or restored already).</summary>
    NotRecoverable,
}

/// <summary>Raised when the mailbox version moved under us: another activation wrote.</summary>
public sealed class MailboxFencedException(string address)
    : Exception($"Mailbox {address} was changed by another activation");

/// <summary>SQL behind MailboxGrain. The grain is the only writer; this class holds no state.</summary>
public sealed class MailboxStore(NpgsqlDataSource dataSource, BlobStore blobs)
{
    public async Task<(MailboxRow Mailbox, List<FolderRow> Folders)?> LoadAsync(string address, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.load");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        MailboxRow mailbox;
        await using (var cmd = new NpgsqlCommand(
            "SELECT version, quota_bytes, used_bytes, messages, last_uidvalidity FROM mailbox WHERE address = @a", conn))
        {
            cmd.Parameters.AddWithValue("a", address);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return null;
            mailbox = new MailboxRow(address, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt32(3), r.GetInt64(4));
        }
        var folders = new List<FolderRow>();
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT f.folder_id, f.name, f.special_use, f.uidvalidity, f.uidnext, f.highest_modseq, f.subscribed, f.recent_from,
                   coalesce(m.n, 0), coalesce(m.unseen, 0), coalesce(m.bytes, 0)
            FROM mailbox_folder f
            LEFT JOIN (SELECT folder_id, count(*) AS n, count(*) FILTER (WHERE flags & 1 = 0) AS unseen, sum(size) AS bytes
                       FROM mailbox_message WHERE mailbox = @a GROUP BY folder_id) m ON m.folder_id = f.folder_id
            WHERE f.mailbox = @a
            ORDER BY f.folder_id
            """, conn))
        {
            cmd.Parameters.AddWithValue("a", address);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                folders.Add(new FolderRow(r.GetInt32(0), r.GetString(1), (SpecialUse)r.GetInt32(2), r.GetInt64(3), r.GetInt64(4),
                    r.GetInt64(5), r.GetBoolean(6), r.GetInt64(7), (int)r.GetInt64(8), (int)r.GetInt64(9), r.GetInt64(10)));
            }
        }
        return (mailbox, folders);
    }

    public async Task<List<MessageRow>> LoadMessagesAsync(string address, int folderId, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.load_messages");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var list = new List<MessageRow>();
        // Binary COPY: the fastest way to bring a large folder's index into memory.
        await using var reader = await conn.BeginBinaryExportAsync(
            $"COPY (SELECT uid, blob_domain, blob_hash, size, internal_date, flags, keywords, modseq, delivery_id, internal_zone, coalesce(save_date, internal_date), thread_id FROM mailbox_message " +
            $"WHERE mailbox = {Quote(address)} AND folder_id = {folderId} ORDER BY uid) TO STDOUT (FORMAT BINARY)", ct);
        while (await reader.StartRowAsync(ct) >= 0)
        {
            var uid = await reader.ReadAsync<long>(NpgsqlDbType.Bigint, ct);
            var domain = await reader.ReadAsync<string>(NpgsqlDbType.Text, ct);
            var hash = await reader.ReadAsync<byte[]>(NpgsqlDbType.Bytea, ct);
            var size = await reader.ReadAsync<long>(NpgsqlDbType.Bigint, ct);
            var date = await reader.ReadAsync<DateTime>(NpgsqlDbType.TimestampTz, ct);
            var flags = await reader.ReadAsync<int>(NpgsqlDbType.Integer, ct);
            var keywords = reader.IsNull ? Skip(reader) : await reader.ReadAsync<string[]>(NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            var modseq = await reader.ReadAsync<long>(NpgsqlDbType.Bigint, ct);
            Guid? delivery = reader.IsNull ? SkipNull(reader) : await reader.ReadAsync<Guid>(NpgsqlDbType.Uuid, ct);
            short? zone = reader.IsNull ? SkipZone(reader) : await reader.ReadAsync<short>(NpgsqlDbType.Smallint, ct);
            var saved = await reader.ReadAsync<DateTime>(NpgsqlDbType.TimestampTz, ct);
            var thread = reader.IsNull ? SkipText(reader) : await reader.ReadAsync<string>(NpgsqlDbType.Text, ct);
            list.Add(new MessageRow(folderId, uid, domain, hash, size, InZone(new DateTimeOffset(date, TimeSpan.Zero), zone), (MessageFlags)flags,
                keywords, modseq, delivery, new DateTimeOffset(saved, TimeSpan.Zero), thread));
        }
        return list;
    }

    private static string[] Skip(NpgsqlBinaryExporter reader)
    {
        reader.Skip();
        return [];
    }

    private static Guid? SkipNull(NpgsqlBinaryExporter reader)
    {
        reader.Skip();
        return null;
    }

    private static string? SkipText(NpgsqlBinaryExporter reader)
    {
        reader.Skip();
        return null;
    }

    private static short? SkipZone(NpgsqlBinaryExporter reader)
    {
        reader.Skip();
        return null;
    }

    /// <summary>An INTERNALDATE in the zone it was given in, or in the server's zone when none was kept (deliveries).</summary>
    public static DateTimeOffset InZone(DateTimeOffset utc, short? zoneMinutes) =>
        zoneMinutes is short z ? utc.ToOffset(TimeSpan.FromMinutes(z)) : utc.ToLocalTime();

    /// <summary>The subscribed names of a mailbox (RFC 3501 6.3.6), existing as folders or not.</summary>
    public async Task<List<string>> LoadSubscriptionsAsync(string address, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT name FROM mailbox_subscription WHERE mailbox = @a ORDER BY name");
        cmd.Parameters.AddWithValue("a", address);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var names = new List<string>();
        while (await r.ReadAsync(ct)) names.Add(r.GetString(0));
        return names;
    }

    // Addresses are validated before they get here; quoting keeps COPY (which takes no parameters) safe anyway.
    private static string Quote(string s) => "'" + s.Replace("'", "''") + "'";

    public async Task ProvisionAsync(string address, long quotaBytes, IReadOnlyList<FolderRow> folders, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO mailbox (address, quota_bytes) VALUES (@a, @q) ON CONFLICT (address) DO NOTHING", conn, tx))
        {
            cmd.Parameters.AddWithValue("a", address);
            cmd.Parameters.AddWithValue("q", quotaBytes);
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                return; // already provisioned
            }
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var f in folders) batch.BatchCommands.Add(UpsertFolder(address, f));
        foreach (var f in folders.Where(f => f.Subscribed)) batch.BatchCommands.Add(Subscription(address, f.Name, subscribed: true));
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Provisions many mailboxes with the same folder set in three statements (the directory's
    /// CSV import creates thousands at once); mailboxes that exist already are left alone.
    /// </summary>
    public async Task ProvisionManyAsync(IReadOnlyList<(string Address, long QuotaBytes)> mailboxes, IReadOnlyList<FolderRow> folders, CancellationToken ct = default)
    {
        if (mailboxes.Count == 0) return;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string[] created;
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO mailbox (address, quota_bytes) SELECT * FROM unnest(@a, @q) ON CONFLICT (address) DO NOTHING RETURNING address", conn, tx))
        {
            cmd.Parameters.AddWithValue("a", mailboxes.Select(m => m.Address).ToArray());
            cmd.Parameters.AddWithValue("q", mailboxes.Select(m => m.QuotaBytes).ToArray());
            var list = new List<string>();
            await using (var r = await cmd.ExecuteReaderAsync(ct))
            {
                while (await r.ReadAsync(ct)) list.Add(r.GetString(0));
            }
            created = list.ToArray();
        }
        if (created.Length > 0)
        {
            await using var batch = new NpgsqlBatch(conn, tx);
            var folderCmd = new NpgsqlBatchCommand(
                """
                INSERT INTO mailbox_folder (mailbox, folder_id, name, special_use, uidvalidity, uidnext, highest_modseq, subscribed, recent_from)
                SELECT m.address, f.id, f.name, f.su, f.uv, f.un, f.hm, f.sub, f.rf
                FROM unnest(@a) AS m(address) CROSS JOIN unnest(@id, @n, @su, @uv, @un, @hm, @sub, @rf) AS f(id, name, su, uv, un, hm, sub, rf)
                ON CONFLICT (mailbox, folder_id) DO NOTHING
                """);
            folderCmd.Parameters.AddWithValue("a", created);
            folderCmd.Parameters.AddWithValue("id", folders.Select(f => f.Id).ToArray());
            folderCmd.Parameters.AddWithValue("n", folders.Select(f => f.Name).ToArray());
            folderCmd.Parameters.AddWithValue("su", folders.Select(f => (int)f.SpecialUse).ToArray());
            folderCmd.Parameters.AddWithValue("uv", folders.Select(f => f.UidValidity).ToArray());
            folderCmd.Parameters.AddWithValue("un", folders.Select(f => f.UidNext).ToArray());
            folderCmd.Parameters.AddWithValue("hm", folders.Select(f => f.HighestModSeq).ToArray());
            folderCmd.Parameters.AddWithValue("sub", folders.Select(f => f.Subscribed).ToArray());
            folderCmd.Parameters.AddWithValue("rf", folders.Select(f => f.RecentFrom).ToArray());
            batch.BatchCommands.Add(folderCmd);
            var subscriptions = new NpgsqlBatchCommand(
                "INSERT INTO mailbox_subscription (mailbox, name) SELECT m.address, f.name FROM unnest(@a) AS m(address) CROSS JOIN unnest(@n) AS f(name) ON CONFLICT DO NOTHING");
            subscriptions.Parameters.AddWithValue("a", created);
            subscriptions.Parameters.AddWithValue("n", folders.Where(f => f.Subscribed).Select(f => f.Name).ToArray());
            batch.BatchCommands.Add(subscriptions);
            await batch.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>Removes the mailbox and releases its blob references.</summary>
    public async Task DestroyAsync(string address, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var deltas = new List<(string, byte[], long)>();
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT blob_domain, blob_hash, count(*) FROM (
                SELECT blob_domain, blob_hash FROM mailbox_message WHERE mailbox = @a
                UNION ALL SELECT blob_domain, blob_hash FROM mailbox_expunged WHERE mailbox = @a AND recoverable) held
            GROUP BY blob_domain, blob_hash
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue("a", address);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) deltas.Add((r.GetString(0), (byte[])r[1], -r.GetInt64(2)));
        }
        await using (var del = new NpgsqlCommand(
            "DELETE FROM mailbox_message WHERE mailbox = @a; DELETE FROM mailbox_expunged WHERE mailbox = @a; DELETE FROM mailbox WHERE address = @a", conn, tx))
        {
            del.Parameters.AddWithValue("a", address);
            await del.ExecuteNonQueryAsync(ct);
        }
        await BlobStore.AdjustReferencesAsync(conn, tx, deltas, ct);
        await tx.CommitAsync(ct);
    }

    public async Task SetQuotaAsync(string address, long quota, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE mailbox SET quota_bytes = @q WHERE address = @a");
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("q", quota);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Commits a change if the mailbox is still at <paramref name="expectedVersion"/>, moving it
    /// to <paramref name="expectedVersion"/> + 1.
    /// </summary>
    public async Task<CommitOutcome> CommitAsync(string address, long expectedVersion, MailboxChange change, CancellationToken ct = default)
    {
        if (IsPlainDelivery(change)) return await DeliverAsync(address, expectedVersion, change, ct);
        if (IsOneTrip(change)) return await CommitInOneTripAsync(address, expectedVersion, change, ct);

        // Several deliveries placed together are still deliveries, on the dashboard too.
        using var pgTimer = GrainMailMeters.TimePg(change.ConsumeQueueRows.Count > 0 ? "mailbox.deliver" : "mailbox.commit");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(conn, tx);

        NpgsqlBatchCommand? consume = null;
        var consumes = 0;
        if (change.ConsumeQueueRow is long row)
        {
            consume = new NpgsqlBatchCommand("DELETE FROM stream_queue WHERE id = @id");
            consume.Parameters.AddWithValue("id", row);
            batch.BatchCommands.Add(consume);
            consumes = 1;
        }
        else if (change.ConsumeQueueRows.Count > 0)
        {
            consume = new NpgsqlBatchCommand("DELETE FROM stream_queue WHERE id = ANY(@ids)");
            consume.Parameters.AddWithValue("ids", change.ConsumeQueueRows.ToArray());
            batch.BatchCommands.Add(consume);
            consumes = change.ConsumeQueueRows.Count;
        }

        var fence = new NpgsqlBatchCommand(
            "UPDATE mailbox SET version = @v + 1, used_bytes = @u, messages = @m, last_uidvalidity = @luv WHERE address = @a AND version = @v");
        fence.Parameters.AddWithValue("luv", change.LastUidValidity);
        fence.Parameters.AddWithValue("a", address);
        fence.Parameters.AddWithValue("v", expectedVersion);
        fence.Parameters.AddWithValue("u", change.UsedBytes);
        fence.Parameters.AddWithValue("m", change.Messages);
        batch.BatchCommands.Add(fence);

        NpgsqlBatchCommand? restore = null;
        if (change.Restored.Count > 0)
        {
            // The blob reference moves to the restored message; the row stays as the old UID's tombstone.
            restore = new NpgsqlBatchCommand(
                """
                UPDATE mailbox_expunged SET recoverable = false, folder_name = NULL, blob_domain = NULL, blob_hash = NULL, size = NULL,
                    internal_date = NULL, internal_zone = NULL, flags = NULL, keywords = NULL
                WHERE mailbox = @a AND id = ANY(@ids) AND recoverable
                """);
            restore.Parameters.AddWithValue("a", address);
            restore.Parameters.AddWithValue("ids", change.Restored.ToArray());
            batch.BatchCommands.Add(restore);
        }
        AddChangeCommands(batch, address, change);

        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "mailbox_message_delivery")
        {
            await tx.RollbackAsync(ct);
            if (change.ConsumeQueueRow is long r) await ConsumeDuplicateAsync(r, change.ConsumedReference, ct);
            return CommitOutcome.AlreadyDelivered;
        }

        // Fewer rows than asked for: one of them was consumed already (a redelivery), and the
        // caller places the events one by one to find out which.
        if (consume is not null && consume.RecordsAffected != consumes)
        {
            await tx.RollbackAsync(ct);
            return CommitOutcome.AlreadyConsumed;
        }
        if (fence.RecordsAffected != 1)
        {
            await tx.RollbackAsync(ct);
            throw new MailboxFencedException(address);
        }
        if (restore is not null && restore.RecordsAffected != change.Restored.Count)
        {
            // Purged (or restored) since the caller read it: nothing changes.
            await tx.RollbackAsync(ct);
            return CommitOutcome.NotRecoverable;
        }
        if (change.NewBlob is { } nb)
        {
            await blobs.AddReferencesAsync(conn, tx, nb.Domain, nb.Hash, nb.Raw, nb.References, ct);
            if (change.NewBlobSummary is { } summary)
                await Governance.MessageIndex.InsertAsync(conn, tx, blobs.Keys, [(nb.Domain, nb.Hash, DateTimeOffset.UtcNow, null, summary)], ct);
        }
        if (change.BlobDeltas.Count > 0) await BlobStore.AdjustReferencesAsync(conn, tx, change.BlobDeltas, ct);
        await tx.CommitAsync(ct);
        return CommitOutcome.Committed;
    }

    /// <summary>
    /// A change that needs no answer from the database before it can commit (flags, expunges, moves,
    /// copies, folders): one batch without BEGIN or COMMIT, which PostgreSQL runs as one implicit
    /// transaction — one round trip instead of three. The fence is a function that raises when the
    /// version moved, which rolls the whole batch back.
    /// </summary>
    private static bool IsOneTrip(MailboxChange c) =>
        c.NewBlob is null && c.ConsumeQueueRow is null && c.ConsumeQueueRows.Count == 0 && c.Restored.Count == 0;

    private async Task<CommitOutcome> CommitInOneTripAsync(string address, long expectedVersion, MailboxChange change, CancellationToken ct)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.commit");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        var fence = new NpgsqlBatchCommand("SELECT grainmail_fence(@a, @v, @u, @m, @luv)");
        fence.Parameters.AddWithValue("a", address);
        fence.Parameters.AddWithValue("v", expectedVersion);
        fence.Parameters.AddWithValue("u", change.UsedBytes);
        fence.Parameters.AddWithValue("m", change.Messages);
        fence.Parameters.AddWithValue("luv", change.LastUidValidity);
        batch.BatchCommands.Add(fence);
        AddChangeCommands(batch, address, change);
        foreach (var cmd in BlobStore.ReferenceCommands(change.BlobDeltas)) batch.BatchCommands.Add(cmd);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == "GM409")
        {
            throw new MailboxFencedException(address);
        }
        return CommitOutcome.Committed;
    }

    /// <summary>The statements of a change after its fence, in the order they must run.</summary>
    private static void AddChangeCommands(NpgsqlBatch batch, string address, MailboxChange change)
    {
        foreach (var f in change.NewFolders) batch.BatchCommands.Add(UpsertFolder(address, f));
        foreach (var f in change.FolderUpdates) batch.BatchCommands.Add(UpdateFolder(address, f));
        foreach (var name in change.Unsubscribed) batch.BatchCommands.Add(Subscription(address, name, subscribed: false));
        foreach (var name in change.Subscribed) batch.BatchCommands.Add(Subscription(address, name, subscribed: true));
        if (change.Learn.Count > 0) batch.BatchCommands.Add(Trust.LearnQueueStore.Enqueue(address, change.Learn));

        if (change.Deleted.Count > 0)
        {
            var del = new NpgsqlBatchCommand(
                """
                DELETE FROM mailbox_message m USING unnest(@f, @u) AS d(folder_id, uid)
                WHERE m.mailbox = @a AND m.folder_id = d.folder_id AND m.uid = d.uid
                """);
            del.Parameters.AddWithValue("a", address);
            del.Parameters.AddWithValue("f", change.Deleted.Select(d => d.FolderId).ToArray());
            del.Parameters.AddWithValue("u", change.Deleted.Select(d => d.Uid).ToArray());
            batch.BatchCommands.Add(del);
        }
        if (change.Expunged.Count > 0) batch.BatchCommands.Add(ExpungeWithTombstones(address, change.Expunged));

        if (change.FlagUpdates.Count > 0)
        {
            // Keywords travel as one text per row ("\u001f"-joined) because unnest flattens nested arrays.
            var upd = new NpgsqlBatchCommand(
                """
                UPDATE mailbox_message m SET flags = d.flags, modseq = d.modseq,
                    keywords = CASE WHEN d.kw = '' THEN NULL ELSE string_to_array(d.kw, E'\u001f') END
                FROM unnest(@f, @u, @fl, @kw, @ms) AS d(folder_id, uid, flags, kw, modseq)
                WHERE m.mailbox = @a AND m.folder_id = d.folder_id AND m.uid = d.uid
                """);
            upd.Parameters.AddWithValue("a", address);
            upd.Parameters.AddWithValue("f", change.FlagUpdates.Select(x => x.FolderId).ToArray());
            upd.Parameters.AddWithValue("u", change.FlagUpdates.Select(x => x.Uid).ToArray());
            upd.Parameters.AddWithValue("fl", change.FlagUpdates.Select(x => (int)x.Flags).ToArray());
            upd.Parameters.AddWithValue("kw", change.FlagUpdates.Select(x => string.Join('\u001f', x.Keywords)).ToArray());
            upd.Parameters.AddWithValue("ms", change.FlagUpdates.Select(x => x.ModSeq).ToArray());
            batch.BatchCommands.Add(upd);
        }

        // Deletes run before inserts (above), so a moved message may keep its delivery id.
        foreach (var m in change.Inserted)
        {
            var ins = new NpgsqlBatchCommand(
                """
                INSERT INTO mailbox_message (mailbox, folder_id, uid, blob_domain, blob_hash, size, internal_date, flags, keywords, modseq, delivery_id, internal_zone, save_date, thread_id)
                VALUES (@a, @f, @u, @bd, @bh, @s, @d, @fl, @kw, @ms, @did, @z, coalesce(@sd, now()), @tid)
                """);
            ins.Parameters.Add(new NpgsqlParameter("tid", NpgsqlDbType.Text) { Value = (object?)m.ThreadId ?? DBNull.Value });
            ins.Parameters.Add(new NpgsqlParameter("sd", NpgsqlDbType.TimestampTz) { Value = m.SaveDate is { } sd ? sd.UtcDateTime : DBNull.Value });
            ins.Parameters.AddWithValue("z", (short)m.InternalDate.Offset.TotalMinutes);
            ins.Parameters.AddWithValue("a", address);
            ins.Parameters.AddWithValue("f", m.FolderId);
            ins.Parameters.AddWithValue("u", m.Uid);
            ins.Parameters.AddWithValue("bd", m.BlobDomain);
            ins.Parameters.AddWithValue("bh", m.BlobHash);
            ins.Parameters.AddWithValue("s", m.Size);
            ins.Parameters.AddWithValue("d", m.InternalDate.UtcDateTime);
            ins.Parameters.AddWithValue("fl", (int)m.Flags);
            ins.Parameters.Add(new NpgsqlParameter("kw", NpgsqlDbType.Array | NpgsqlDbType.Text)
            {
                Value = m.Keywords.Length == 0 ? DBNull.Value : m.Keywords,
            });
            ins.Parameters.AddWithValue("ms", m.ModSeq);
            ins.Parameters.Add(new NpgsqlParameter("did", NpgsqlDbType.Uuid) { Value = m.DeliveryId is Guid g ? g : DBNull.Value });
            batch.BatchCommands.Add(ins);
        }

        foreach (var id in change.FolderDeletes)
        {
            var fd = new NpgsqlBatchCommand("DELETE FROM mailbox_folder WHERE mailbox = @a AND folder_id = @f");
            fd.Parameters.AddWithValue("a", address);
            fd.Parameters.AddWithValue("f", id);
            batch.BatchCommands.Add(fd);
        }
    }

    // The shape of one inbound delivery: a consumed queue row, one new message without keywords,
    // its folder's counters. Thousands a second: it has a one-statement path of its own.
    private static bool IsPlainDelivery(MailboxChange c) =>
        c.ConsumeQueueRow is not null && c.ConsumedReference is not null && c.Inserted.Count == 1 && c.FolderUpdates.Count == 1
        && c.Inserted[0].Keywords.Length == 0 && c.Inserted[0].DeliveryId is not null
        && c.Deleted.Count == 0 && c.FlagUpdates.Count == 0 && c.NewFolders.Count == 0 && c.FolderDeletes.Count == 0
        && c.BlobDeltas.Count == 0 && c.NewBlob is null && c.Subscribed.Count == 0 && c.Unsubscribed.Count == 0 && c.Learn.Count == 0;

    private async Task<CommitOutcome> DeliverAsync(string address, long expectedVersion, MailboxChange c, CancellationToken ct)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.deliver");
        var m = c.Inserted[0];
        var f = c.FolderUpdates[0];
        await using var cmd = dataSource.CreateCommand(
            "SELECT grainmail_deliver(@a, @v, @u, @n, @luv, @row, @f, @un, @hm, @uid, @bd, @bh, @s, @d, @fl, @ms, @did, @tid)");
        // The thread id stored with the message (migration 0039's form of the function).
        cmd.Parameters.Add(new NpgsqlParameter("tid", NpgsqlDbType.Text) { Value = (object?)m.ThreadId ?? DBNull.Value });
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("v", expectedVersion);
        cmd.Parameters.AddWithValue("u", c.UsedBytes);
        cmd.Parameters.AddWithValue("n", c.Messages);
        cmd.Parameters.AddWithValue("luv", c.LastUidValidity);
        cmd.Parameters.AddWithValue("row", c.ConsumeQueueRow!.Value);
        cmd.Parameters.AddWithValue("f", f.Id);
        cmd.Parameters.AddWithValue("un", f.UidNext);
        cmd.Parameters.AddWithValue("hm", f.HighestModSeq);
        cmd.Parameters.AddWithValue("uid", m.Uid);
        cmd.Parameters.AddWithValue("bd", m.BlobDomain);
        cmd.Parameters.AddWithValue("bh", m.BlobHash);
        cmd.Parameters.AddWithValue("s", m.Size);
        cmd.Parameters.AddWithValue("d", m.InternalDate.UtcDateTime);
        cmd.Parameters.AddWithValue("fl", (int)m.Flags);
        cmd.Parameters.AddWithValue("ms", m.ModSeq);
        cmd.Parameters.AddWithValue("did", m.DeliveryId!.Value);
        try
        {
            return (int)(await cmd.ExecuteScalarAsync(ct))! switch
            {
                0 => CommitOutcome.Committed,
                1 => CommitOutcome.AlreadyConsumed,
                _ => CommitOutcome.AlreadyDelivered,
            };
        }
        catch (PostgresException e) when (e.SqlState == "GM409")
        {
            throw new MailboxFencedException(address);
        }
    }

    private async Task ConsumeDuplicateAsync(long row, (string Domain, byte[] Hash)? reference, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand("DELETE FROM stream_queue WHERE id = @id", conn, tx);
        cmd.Parameters.AddWithValue("id", row);
        if (await cmd.ExecuteNonQueryAsync(ct) == 1 && reference is { } r)
        {
            await BlobStore.AdjustReferencesAsync(conn, tx, [(r.Domain, r.Hash, -1)], ct);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Deletes the messages and writes their tombstones in one statement: the row moves from
    /// <c>mailbox_message</c> to <c>mailbox_expunged</c> inside PostgreSQL. A recoverable tombstone keeps
    /// the message's blob reference and what a restore needs; the others only UID and MODSEQ.
    /// </summary>
    private static NpgsqlBatchCommand ExpungeWithTombstones(string address, IReadOnlyList<ExpungedMessage> gone)
    {
        var cmd = new NpgsqlBatchCommand(
            """
            WITH gone AS (
                DELETE FROM mailbox_message m USING unnest(@f, @u, @uv, @ms, @rec, @fn, @at) AS d(folder_id, uid, uv, ms, rec, fname, at)
                WHERE m.mailbox = @a AND m.folder_id = d.folder_id AND m.uid = d.uid
                RETURNING m.folder_id, m.uid, m.blob_domain, m.blob_hash, m.size, m.internal_date, m.internal_zone, m.flags, m.keywords,
                          m.thread_id, d.uv, d.ms, d.rec, d.fname, d.at)
            INSERT INTO mailbox_expunged (mailbox, folder_id, uidvalidity, uid, modseq, expunged_at, recoverable, folder_name,
                blob_domain, blob_hash, size, internal_date, internal_zone, flags, keywords, email_key, thread_id)
            SELECT @a, folder_id, uv, uid, ms, at, rec,
                   CASE WHEN rec THEN fname END, CASE WHEN rec THEN blob_domain END, CASE WHEN rec THEN blob_hash END,
                   CASE WHEN rec THEN size END, CASE WHEN rec THEN internal_date END, CASE WHEN rec THEN internal_zone END,
                   CASE WHEN rec THEN flags END, CASE WHEN rec THEN keywords END,
                   substring(blob_hash from 1 for 12), -- the Email id's digits, for JMAP /changes (0035)
                   thread_id -- for Thread/changes of an Email gone since (0051)
            FROM gone
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("f", gone.Select(g => g.Message.FolderId).ToArray());
        cmd.Parameters.AddWithValue("u", gone.Select(g => g.Message.Uid).ToArray());
        cmd.Parameters.AddWithValue("uv", gone.Select(g => g.UidValidity).ToArray());
        cmd.Parameters.AddWithValue("ms", gone.Select(g => g.ModSeq).ToArray());
        cmd.Parameters.AddWithValue("rec", gone.Select(g => g.Recoverable).ToArray());
        cmd.Parameters.AddWithValue("fn", gone.Select(g => g.FolderName).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = gone.Select(g => g.ExpungedAt.UtcDateTime).ToArray() });
        return cmd;
    }

    /// <summary>
    /// The UIDs expunged from a folder after <paramref name="sinceModSeq"/>, or null when rows that old
    /// may be missing (purged, or from before tombstones were kept): then the caller diffs UIDs.
    /// </summary>
    public async Task<List<long>?> ExpungedSinceAsync(string address, int folderId, long uidValidity, long sinceModSeq, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.expunged_since");
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT f.vanished_horizon,
                   array(SELECT e.uid FROM mailbox_expunged e
                         WHERE e.mailbox = @a AND e.folder_id = @f AND e.uidvalidity = @uv AND e.modseq > @s ORDER BY e.uid)
            FROM mailbox_folder f WHERE f.mailbox = @a AND f.folder_id = @f
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("f", folderId);
        cmd.Parameters.AddWithValue("uv", uidValidity);
        cmd.Parameters.AddWithValue("s", sinceModSeq);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct) || r.GetInt64(0) > sinceModSeq) return null;
        return [.. (long[])r[1]];
    }

    /// <summary>The messages of a mailbox its user may still restore (removed after <paramref name="since"/>), newest first.</summary>
    public async Task<List<RecoverableRow>> RecoverableAsync(string address, DateTimeOffset since, IReadOnlyList<long>? ids = null, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, folder_id, uidvalidity, folder_name, blob_domain, blob_hash, size, internal_date, internal_zone, flags, keywords, expunged_at
            FROM mailbox_expunged
            WHERE mailbox = @a AND recoverable AND expunged_at > @since AND (@ids::bigint[] IS NULL OR id = ANY(@ids))
            ORDER BY expunged_at DESC, id DESC
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("since", since.UtcDateTime);
        cmd.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids is null ? DBNull.Value : ids.ToArray() });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<RecoverableRow>();
        while (await r.ReadAsync(ct))
        {
            short? zone = r.IsDBNull(8) ? null : r.GetInt16(8);
            list.Add(new RecoverableRow(r.GetInt64(0), r.GetInt32(1), r.GetInt64(2), r.IsDBNull(3) ? "" : r.GetString(3), r.GetString(4),
                (byte[])r[5], r.GetInt64(6), InZone(new DateTimeOffset(r.GetDateTime(7), TimeSpan.Zero), zone), (MessageFlags)r.GetInt32(9),
                r.IsDBNull(10) ? [] : (string[])r[10], new DateTimeOffset(r.GetDateTime(11), TimeSpan.Zero)));
        }
        return list;
    }

    /// <summary>
    /// Removes the tombstones of messages removed at or before <paramref name="cutoff"/>: recoverable ones
    /// release their blob reference (the blob goes with its last reference; a copy elsewhere keeps
    /// it), and each folder's vanished horizon moves past them. Returns how many rows went.
    /// </summary>
    public async Task<int> PurgeExpungedAsync(string address, DateTimeOffset cutoff, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("mailbox.purge_expunged");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var deltas = new List<(string, byte[], long)>();
        var horizons = new Dictionary<int, long>();
        var purged = 0;
        await using (var cmd = new NpgsqlCommand(
            "DELETE FROM mailbox_expunged WHERE mailbox = @a AND expunged_at <= @c RETURNING folder_id, modseq, recoverable, blob_domain, blob_hash",
            conn, tx))
        {
            cmd.Parameters.AddWithValue("a", address);
            cmd.Parameters.AddWithValue("c", cutoff.UtcDateTime);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                purged++;
                var folder = r.GetInt32(0);
                horizons[folder] = Math.Max(horizons.GetValueOrDefault(folder), r.GetInt64(1));
                if (r.GetBoolean(2)) deltas.Add((r.GetString(3), (byte[])r[4], -1));
            }
        }
        if (horizons.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE mailbox_folder f SET vanished_horizon = greatest(f.vanished_horizon, h.ms)
                FROM unnest(@f, @ms) AS h(folder_id, ms) WHERE f.mailbox = @a AND f.folder_id = h.folder_id
                """, conn, tx);
            cmd.Parameters.AddWithValue("a", address);
            cmd.Parameters.AddWithValue("f", horizons.Keys.ToArray());
            cmd.Parameters.AddWithValue("ms", horizons.Values.ToArray());
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await BlobStore.AdjustReferencesAsync(conn, tx, deltas, ct);
        await tx.CommitAsync(ct);
        return purged;
    }

    /// <summary>Whether the mailbox has tombstones at all (the purge reminder is needed while it has).</summary>
    public async Task<bool> HasExpungedAsync(string address, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM mailbox_expunged WHERE mailbox = @a)");
        cmd.Parameters.AddWithValue("a", address);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>How many days a domain's users can recover removed mail (<c>mail_recovery_policy</c>; 7 without a row).</summary>
    public async Task<int> RecoveryDaysAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT recovery_days FROM mail_recovery_policy WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        return await cmd.ExecuteScalarAsync(ct) is int days ? days : DefaultRecoveryDays;
    }

    public async Task SetRecoveryDaysAsync(string domain, int days, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO mail_recovery_policy (domain, recovery_days) VALUES (@d, @n) ON CONFLICT (domain) DO UPDATE SET recovery_days = EXCLUDED.recovery_days");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("n", days);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Issue 17 (4.3.10): removed mail stays recoverable for a week unless the domain says otherwise.</summary>
    public const int DefaultRecoveryDays = 7;

    private static NpgsqlBatchCommand Subscription(string address, string name, bool subscribed)
    {
        var cmd = new NpgsqlBatchCommand(subscribed
            ? "INSERT INTO mailbox_subscription (mailbox, name) VALUES (@a, @n) ON CONFLICT DO NOTHING"
            : "DELETE FROM mailbox_subscription WHERE mailbox = @a AND name = @n");
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("n", name);
        return cmd;
    }

    // A plain UPDATE: cheaper than an upsert on the hot path (every delivery and flag change).
    private static NpgsqlBatchCommand UpdateFolder(string address, FolderRow f)
    {
        var cmd = new NpgsqlBatchCommand(
            """
            UPDATE mailbox_folder SET name = @n, uidnext = @un, highest_modseq = @hm, subscribed = @sub, recent_from = @rf
            WHERE mailbox = @a AND folder_id = @id
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("id", f.Id);
        cmd.Parameters.AddWithValue("n", f.Name);
        cmd.Parameters.AddWithValue("un", f.UidNext);
        cmd.Parameters.AddWithValue("hm", f.HighestModSeq);
        cmd.Parameters.AddWithValue("sub", f.Subscribed);
        cmd.Parameters.AddWithValue("rf", f.RecentFrom);
        return cmd;
    }

    private static NpgsqlBatchCommand UpsertFolder(string address, FolderRow f)
    {
        var cmd = new NpgsqlBatchCommand(
            """
            INSERT INTO mailbox_folder (mailbox, folder_id, name, special_use, uidvalidity, uidnext, highest_modseq, subscribed, recent_from)
            VALUES (@a, @id, @n, @su, @uv, @un, @hm, @sub, @rf)
            ON CONFLICT (mailbox, folder_id) DO UPDATE SET name = EXCLUDED.name, special_use = EXCLUDED.special_use,
                uidvalidity = EXCLUDED.uidvalidity, uidnext = EXCLUDED.uidnext, highest_modseq = EXCLUDED.highest_modseq,
                subscribed = EXCLUDED.subscribed, recent_from = EXCLUDED.recent_from
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("id", f.Id);
        cmd.Parameters.AddWithValue("n", f.Name);
        cmd.Parameters.AddWithValue("su", (int)f.SpecialUse);
        cmd.Parameters.AddWithValue("uv", f.UidValidity);
        cmd.Parameters.AddWithValue("un", f.UidNext);
        cmd.Parameters.AddWithValue("hm", f.HighestModSeq);
        cmd.Parameters.AddWithValue("sub", f.Subscribed);
        cmd.Parameters.AddWithValue("rf", f.RecentFrom);
        return cmd;
    }
}
