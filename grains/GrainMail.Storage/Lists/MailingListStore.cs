using GrainMail.Contracts.Lists;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Streams;
using Npgsql;

namespace GrainMail.Storage.Lists;

/// <summary>A list row as stored, with its member count.</summary>
public sealed record StoredList(string Domain, ListSettings Settings, int Members, DateTimeOffset CreatedAt);

/// <summary>One address a list expands to; <paramref name="External"/> when it is outside every hosted domain.</summary>
public sealed record ListRecipient(string Address, bool External);

/// <summary>A held post as stored.</summary>
public sealed record StoredHeld(Guid Id, string? Sender, string? Subject, string BlobDomain, byte[] BlobHash, long Size,
    DateTimeOffset ReceivedAt, DateTimeOffset HeldAt, string Token);

/// <summary>
/// Why a list took a post off its stream without sending it on (migration 0050), kept for the poster's JMAP deliveryStatus.
/// <paramref name="Reason"/> is an enhanced status code and text, like a dead letter's.
/// </summary>
public sealed record ListDrop(string Domain, string List, string? Account, DateTimeOffset ReceivedAt, string Reason)
{
    public const string Rejected = "5.7.1 Rejected by the mailing list's moderators";
    public const string Loop = "5.4.6 Mail loop: the message already carries this mailing list's List-Id or X-Loop";
    public const string NoList = "5.1.1 The mailing list no longer exists";
    public const string Gone = "5.3.0 The mailing list could not read the message";
}

/// <summary>Where an expansion stands: the last member done (ordinal order) and whether it is finished.</summary>
public sealed record ExpansionProgress(string LastMember, int Members, bool Done);

/// <summary>
/// SQL of the mailing lists (migration 0014): settings (written by DomainGrain), members,
/// expansion progress and held posts (written by the list's grain). Members of a department are
/// not copied: each read follows the department's subtree in <c>directory_account</c> as it is now.
/// </summary>
public sealed class MailingListStore(NpgsqlDataSource dataSource, BlobStore blobs)
{
    // ---- settings (DomainGrain) -------------------------------------------------------------

    public async Task<List<StoredList>> ListAsync(string domain, string? name = null, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT l.name, l.display_name, l.post_policy, l.senders, l.moderators, l.created_at,
                   (SELECT count(*) FROM mailing_list_member m WHERE m.domain = l.domain AND m.list = l.name)
            FROM mailing_list l WHERE l.domain = @d AND (@n::text IS NULL OR l.name = @n) ORDER BY l.name COLLATE "C"
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.Add(new NpgsqlParameter("n", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<StoredList>();
        while (await r.ReadAsync(ct))
        {
            ListPostPolicies.TryParse(r.GetString(2), out var policy);
            list.Add(new StoredList(domain, new ListSettings(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), policy,
                (string[])r[3], (string[])r[4]), (int)r.GetInt64(6), r.GetFieldValue<DateTimeOffset>(5)));
        }
        return list;
    }

    public async Task<StoredList?> GetAsync(string domain, string name, CancellationToken ct = default) =>
        (await ListAsync(domain, name, ct)).FirstOrDefault();

    public async Task UpsertAsync(string domain, ListSettings s, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO mailing_list (domain, name, display_name, post_policy, senders, moderators)
            VALUES (@d, @n, @dn, @p, @s, @m)
            ON CONFLICT (domain, name) DO UPDATE SET display_name = EXCLUDED.display_name, post_policy = EXCLUDED.post_policy,
                senders = EXCLUDED.senders, moderators = EXCLUDED.moderators, updated_at = now()
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("n", s.Name);
        cmd.Parameters.Add(new NpgsqlParameter("dn", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)s.DisplayName ?? DBNull.Value });
        cmd.Parameters.AddWithValue("p", ListPostPolicies.Name(s.PostPolicy));
        cmd.Parameters.AddWithValue("s", s.Senders.ToArray());
        cmd.Parameters.AddWithValue("m", s.Moderators.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes the list, its members and its held posts (releasing their blob references) in one transaction.</summary>
    public async Task DeleteAsync(string domain, string name, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var released = new List<(string, byte[], long)>();
        var dropped = new List<ListDrop>();
        await using (var held = new NpgsqlCommand("DELETE FROM mailing_list_held WHERE domain = @d AND list = @n RETURNING blob_domain, blob_hash, received_at", conn, tx))
        {
            held.Parameters.AddWithValue("d", domain);
            held.Parameters.AddWithValue("n", name);
            await using var r = await held.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                released.Add((r.GetString(0), (byte[])r[1], -1));
                dropped.Add(new ListDrop(domain, name, null, r.GetFieldValue<DateTimeOffset>(2), ListDrop.NoList));
            }
        }
        await BlobStore.AdjustReferencesAsync(conn, tx, released, ct);
        await RecordDropsAsync(conn, tx, dropped, ct);
        await using (var del = new NpgsqlCommand("DELETE FROM mailing_list WHERE domain = @d AND name = @n", conn, tx))
        {
            del.Parameters.AddWithValue("d", domain);
            del.Parameters.AddWithValue("n", name);
            await del.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    // ---- members (the list's grain) --------------------------------------------------------

    /// <summary>False when the member was there already.</summary>
    public async Task<bool> AddMemberAsync(string domain, string list, ListMember m, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO mailing_list_member (domain, list, kind, value) VALUES (@d, @l, @k, @v) ON CONFLICT DO NOTHING");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        cmd.Parameters.AddWithValue("k", KindName(m.Kind));
        cmd.Parameters.AddWithValue("v", m.Value);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> RemoveMemberAsync(string domain, string list, ListMember m, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM mailing_list_member WHERE domain = @d AND list = @l AND kind = @k AND value = @v");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        cmd.Parameters.AddWithValue("k", KindName(m.Kind));
        cmd.Parameters.AddWithValue("v", m.Value);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<List<ListMember>> MembersAsync(string domain, string list, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT m.kind, m.value, d.name FROM mailing_list_member m
            LEFT JOIN directory_department d ON m.kind = 'department' AND d.domain = m.domain AND d.id::text = m.value
            WHERE m.domain = @d AND m.list = @l ORDER BY m.kind, m.value COLLATE "C"
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var members = new List<ListMember>();
        while (await r.ReadAsync(ct)) members.Add(new ListMember(ParseKind(r.GetString(0)), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)));
        return members;
    }

    /// <summary>The department's name when it exists in <paramref name="domain"/>; null otherwise.</summary>
    public async Task<string?> DepartmentAsync(string domain, long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT name FROM directory_department WHERE domain = @d AND id = @i");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("i", id);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>Whether any of <paramref name="addresses"/> is a member now: named, or in a member department's subtree.</summary>
    public async Task<bool> IsMemberAsync(string domain, string list, IReadOnlyCollection<string> addresses, CancellationToken ct = default)
    {
        if (addresses.Count == 0) return false;
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT EXISTS (SELECT 1 FROM mailing_list_member WHERE domain = @d AND list = @l AND kind IN ('account', 'external') AND value = ANY(@a))
                OR EXISTS (SELECT 1 FROM mailing_list_member m
                           JOIN directory_department dep ON dep.domain = m.domain AND dep.path @> ARRAY[CASE WHEN m.kind = 'department' THEN m.value::bigint END]
                           JOIN directory_account a ON a.department_id = dep.id
                           WHERE m.domain = @d AND m.list = @l AND m.kind = 'department' AND a.enabled
                             AND a.local_part || '@' || a.domain = ANY(@a))
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        cmd.Parameters.AddWithValue("a", addresses.ToArray());
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// The list's recipients after <paramref name="after"/> in ordinal order, at most <paramref name="limit"/>:
    /// named accounts and external addresses, and the enabled accounts of member departments' subtrees as they are now.
    /// </summary>
    public async Task<List<ListRecipient>> RecipientsAsync(string domain, string list, string after, int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT address, bool_or(external) FROM (
                SELECT value AS address, kind = 'external' AS external FROM mailing_list_member
                WHERE domain = @d AND list = @l AND kind IN ('account', 'external')
                UNION ALL
                SELECT a.local_part || '@' || a.domain, false FROM mailing_list_member m
                JOIN directory_department dep ON dep.domain = m.domain AND dep.path @> ARRAY[CASE WHEN m.kind = 'department' THEN m.value::bigint END]
                JOIN directory_account a ON a.department_id = dep.id
                WHERE m.domain = @d AND m.list = @l AND m.kind = 'department' AND a.enabled
            ) r
            WHERE address COLLATE "C" > @after
            GROUP BY address ORDER BY address COLLATE "C" LIMIT @n
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        cmd.Parameters.AddWithValue("after", after);
        cmd.Parameters.AddWithValue("n", limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var page = new List<ListRecipient>();
        while (await r.ReadAsync(ct)) page.Add(new ListRecipient(r.GetString(0), r.GetBoolean(1)));
        return page;
    }

    // ---- expansion -------------------------------------------------------------------------

    /// <summary>Whether this list delivery was expanded to the end already (a redelivered event).</summary>
    public async Task<bool> IsDoneAsync(Guid deliveryId, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM mailing_list_expansion WHERE delivery_id = @id AND done)");
        cmd.Parameters.AddWithValue("id", deliveryId);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<ExpansionProgress> ProgressAsync(Guid deliveryId, string listAddress, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            WITH fresh AS (
                INSERT INTO mailing_list_expansion (delivery_id, list_address) VALUES (@id, @l) ON CONFLICT (delivery_id) DO NOTHING
                RETURNING last_member, members, done)
            SELECT * FROM fresh
            UNION ALL SELECT last_member, members, done FROM mailing_list_expansion WHERE delivery_id = @id
            """);
        cmd.Parameters.AddWithValue("id", deliveryId);
        cmd.Parameters.AddWithValue("l", listAddress);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new ExpansionProgress(r.GetString(0), r.GetInt32(1), r.GetBoolean(2));
    }

    /// <summary>
    /// Those of <paramref name="members"/> whose inbound events are still in the stream queue
    /// (not yet consumed by their mailboxes): list expansion's pacing window.
    /// </summary>
    public async Task<List<string>> QueuedInboundAsync(IReadOnlyList<string> members, CancellationToken ct = default)
    {
        if (members.Count == 0) return [];
        await using var cmd = dataSource.CreateCommand(
            "SELECT DISTINCT stream_key FROM stream_queue WHERE stream_ns = @ns AND stream_key = ANY(@members)");
        cmd.Parameters.AddWithValue("ns", GrainMail.Contracts.Delivery.DeliveryStreams.Inbound);
        cmd.Parameters.AddWithValue("members", members.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var queued = new List<string>();
        while (await r.ReadAsync(ct)) queued.Add(r.GetString(0));
        return queued;
    }

    /// <summary>
    /// One batch, in one transaction: the member copies' blob references, their delivery events,
    /// and the progress moved past the batch's last member. False (nothing written) when the
    /// progress is no longer <paramref name="expectedLast"/>: another attempt got there first.
    /// </summary>
    /// <param name="alongside">More writes of the same batch in its transaction (the copies' search index rows and report counters).</param>
    public async Task<bool> CommitBatchAsync(Guid deliveryId, string expectedLast, string newLast, IReadOnlyList<BlobWrite> copies,
        IReadOnlyCollection<OutgoingEvent> events, Func<NpgsqlConnection, NpgsqlTransaction, Task>? alongside = null, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockRow = new NpgsqlCommand("SELECT last_member, done FROM mailing_list_expansion WHERE delivery_id = @id FOR UPDATE", conn, tx))
        {
            lockRow.Parameters.AddWithValue("id", deliveryId);
            await using var r = await lockRow.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct) || r.GetBoolean(1) || r.GetString(0) != expectedLast) return false;
        }
        await blobs.AddReferencesAsync(conn, tx, copies, ct);
        await StreamQueueStore.EnqueueAsync(conn, events, ct);
        if (alongside is not null) await alongside(conn, tx);
        await using (var move = new NpgsqlCommand(
            "UPDATE mailing_list_expansion SET last_member = @last, members = members + @n, updated_at = now() WHERE delivery_id = @id", conn, tx))
        {
            move.Parameters.AddWithValue("id", deliveryId);
            move.Parameters.AddWithValue("last", newLast);
            move.Parameters.AddWithValue("n", events.Count);
            await move.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// The expansion is done: marked so, the list event's queue row consumed and its reference on the
    /// original blob released — the release only when this call removed the row (a redelivery does not).
    /// </summary>
    public async Task FinishAsync(Guid deliveryId, long queueRowId, string blobDomain, byte[] blobHash, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var done = new NpgsqlCommand(
            """
            UPDATE mailing_list_expansion SET done = true, updated_at = now() WHERE delivery_id = @id;
            DELETE FROM mailing_list_expansion WHERE done AND updated_at < now() - interval '7 days';
            """, conn, tx))
        {
            done.Parameters.AddWithValue("id", deliveryId);
            await done.ExecuteNonQueryAsync(ct);
        }
        await ConsumeAsync(conn, tx, queueRowId, blobDomain, blobHash, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Consumes a list event without delivering it (a loop, a list gone, a moderator's command): its queue row and its
    /// blob reference, and, for a post, the <paramref name="drop"/> record in the same transaction — only when this call
    /// consumed the row, so a redelivered event is not recorded twice.
    /// </summary>
    public async Task DropAsync(long queueRowId, string blobDomain, byte[] blobHash, ListDrop? drop = null, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await ConsumeAsync(conn, tx, queueRowId, blobDomain, blobHash, ct) && drop is not null)
            await RecordDropsAsync(conn, tx, [drop], ct);
        await tx.CommitAsync(ct);
    }

    private static async Task<bool> ConsumeAsync(NpgsqlConnection conn, NpgsqlTransaction tx, long queueRowId, string blobDomain, byte[] blobHash, CancellationToken ct)
    {
        await using var del = new NpgsqlCommand("DELETE FROM stream_queue WHERE id = @row", conn, tx);
        del.Parameters.AddWithValue("row", queueRowId);
        if (await del.ExecuteNonQueryAsync(ct) != 1) return false;
        await BlobStore.AdjustReferencesAsync(conn, tx, [(blobDomain, blobHash, -1)], ct);
        return true;
    }

    /// <summary>Notes dropped posts (migration 0050) and prunes the notes past 30 days, the JMAP submissions' own lifetime.</summary>
    private static async Task RecordDropsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<ListDrop> drops, CancellationToken ct)
    {
        if (drops.Count == 0) return;
        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO mailing_list_dropped (domain, list, account, received_at, reason)
            SELECT * FROM unnest(@d, @l, @a, @at, @r);
            DELETE FROM mailing_list_dropped WHERE at < now() - interval '30 days';
            """, conn, tx);
        cmd.Parameters.AddWithValue("d", drops.Select(x => x.Domain).ToArray());
        cmd.Parameters.AddWithValue("l", drops.Select(x => x.List).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("a", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
        {
            Value = drops.Select(x => x.Account).ToArray(), // null elements are NULLs: a held post's account is not known
        });
        cmd.Parameters.AddWithValue("at", drops.Select(x => x.ReceivedAt.ToUniversalTime()).ToArray());
        cmd.Parameters.AddWithValue("r", drops.Select(x => x.Reason).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    // ---- moderation ------------------------------------------------------------------------

    /// <summary>
    /// Holds a post: the list event's queue row is consumed and its blob reference moves to the held
    /// row, in one transaction. False when the row was already consumed (a redelivery): nothing changes.
    /// </summary>
    public async Task<bool> HoldAsync(string domain, string list, ListDeliveryEvent e, string? subject, string token, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var del = new NpgsqlCommand("DELETE FROM stream_queue WHERE id = @row", conn, tx))
        {
            del.Parameters.AddWithValue("row", e.QueueRowId);
            if (await del.ExecuteNonQueryAsync(ct) != 1) return false;
        }
        await using (var ins = new NpgsqlCommand(
            """
            INSERT INTO mailing_list_held (id, domain, list, sender, subject, blob_domain, blob_hash, size, received_at, token)
            VALUES (@id, @d, @l, @s, @subj, @bd, @bh, @size, @at, @t)
            """, conn, tx))
        {
            ins.Parameters.AddWithValue("id", e.DeliveryId);
            ins.Parameters.AddWithValue("d", domain);
            ins.Parameters.AddWithValue("l", list);
            ins.Parameters.Add(new NpgsqlParameter("s", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)e.Sender ?? DBNull.Value });
            ins.Parameters.Add(new NpgsqlParameter("subj", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)subject ?? DBNull.Value });
            ins.Parameters.AddWithValue("bd", e.BlobDomain);
            ins.Parameters.AddWithValue("bh", e.BlobHash);
            ins.Parameters.AddWithValue("size", e.Size);
            ins.Parameters.AddWithValue("at", e.ReceivedAt);
            ins.Parameters.AddWithValue("t", token);
            await ins.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<List<StoredHeld>> HeldAsync(string domain, string list, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, sender, subject, blob_domain, blob_hash, size, received_at, held_at, token
            FROM mailing_list_held WHERE domain = @d AND list = @l ORDER BY held_at, id
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", list);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var held = new List<StoredHeld>();
        while (await r.ReadAsync(ct))
        {
            held.Add(new StoredHeld(r.GetGuid(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
                r.GetString(3), (byte[])r[4], r.GetInt64(5), r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), r.GetString(8)));
        }
        return held;
    }

    /// <summary>
    /// Takes a held post out (by id or by its token). Approved: the post goes back into the list's
    /// stream as an approved event built by <paramref name="approved"/>, which takes over the held
    /// row's blob reference; rejected: the reference is released. Null when no such post is held.
    /// </summary>
    public async Task<StoredHeld?> ReleaseAsync(string domain, string list, Guid? id, string? token, Func<StoredHeld, OutgoingEvent>? approved,
        CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        StoredHeld? held = null;
        await using (var del = new NpgsqlCommand(
            """
            DELETE FROM mailing_list_held WHERE domain = @d AND list = @l AND (id = @id OR token = @t)
            RETURNING id, sender, subject, blob_domain, blob_hash, size, received_at, held_at, token
            """, conn, tx))
        {
            del.Parameters.AddWithValue("d", domain);
            del.Parameters.AddWithValue("l", list);
            del.Parameters.Add(new NpgsqlParameter("id", NpgsqlTypes.NpgsqlDbType.Uuid) { Value = (object?)id ?? DBNull.Value });
            del.Parameters.Add(new NpgsqlParameter("t", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)token ?? DBNull.Value });
            await using var r = await del.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                held = new StoredHeld(r.GetGuid(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
                    r.GetString(3), (byte[])r[4], r.GetInt64(5), r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), r.GetString(8));
            }
        }
        if (held is null) return null;
        if (approved is not null) await StreamQueueStore.EnqueueAsync(conn, [approved(held)], ct);
        else
        {
            await BlobStore.AdjustReferencesAsync(conn, tx, [(held.BlobDomain, held.BlobHash, -1)], ct);
            // The held row does not keep the poster's account: the note matches by list and receipt time alone.
            await RecordDropsAsync(conn, tx, [new ListDrop(domain, list, null, held.ReceivedAt, ListDrop.Rejected)], ct);
        }
        await tx.CommitAsync(ct);
        return held;
    }

    public static string KindName(ListMemberKind k) => k switch
    {
        ListMemberKind.Account => "account",
        ListMemberKind.Department => "department",
        _ => "external",
    };

    private static ListMemberKind ParseKind(string s) => s switch
    {
        "account" => ListMemberKind.Account,
        "department" => ListMemberKind.Department,
        _ => ListMemberKind.External,
    };
}
