using GrainMail.Operations;
using GrainMail.Contracts.Outbound;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Storage.Outbound;

/// <summary>A queued outbound message with what delivering it needs.</summary>
public sealed record OutboundRow(Guid Id, string Destination, IReadOnlyList<string> Recipients, string? Sender, string BlobDomain,
    byte[] BlobHash, long Size, DateTimeOffset ReceivedAt, string? Dsn, int Attempts, DateTimeOffset NextAttempt, string? LastError,
    bool DelayNotified = false, bool RequireTls = false)
{
    public QueuedOutbound ToContract() => new(Id, Destination, Recipients, Sender, Size, ReceivedAt, Attempts, NextAttempt, LastError);
}

/// <summary>One line of the send log.</summary>
public sealed record AttemptLog(string Recipient, DateTimeOffset At, string Link, string? Remote, string Outcome, string Reply, Guid MessageId = default);

/// <summary>SQL of the outbound routes' durable queues (<c>outbound_message</c>) and the send log (<c>outbound_attempt</c>).</summary>
public sealed class OutboundStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Takes a stream event into the route's queue and removes its stream row in one
    /// transaction; a redelivered event (same delivery id) changes nothing.
    /// </summary>
    public async Task<bool> AcceptAsync(OutboundEvent e, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("outbound.accept");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO outbound_message (id, destination, sender, recipients, blob_domain, blob_hash, size, received_at, dsn, require_tls)
            VALUES (@id, @dest, @sender, @rcpts, @bd, @bh, @size, @at, @dsn, @rt)
            ON CONFLICT (id) DO NOTHING
            """, conn, tx);
        insert.Parameters.AddWithValue("id", e.DeliveryId);
        insert.Parameters.AddWithValue("dest", e.Destination);
        insert.Parameters.AddWithValue("sender", (object?)e.Sender ?? DBNull.Value);
        insert.Parameters.AddWithValue("rcpts", e.Recipients.ToArray());
        insert.Parameters.AddWithValue("bd", e.BlobDomain);
        insert.Parameters.AddWithValue("bh", e.BlobHash);
        insert.Parameters.AddWithValue("size", e.Size);
        insert.Parameters.AddWithValue("at", e.ReceivedAt);
        insert.Parameters.AddWithValue("dsn", (object?)e.Dsn ?? DBNull.Value);
        insert.Parameters.AddWithValue("rt", e.RequireTls);
        var inserted = await insert.ExecuteNonQueryAsync(ct) == 1;
        await using var consume = new NpgsqlCommand("DELETE FROM stream_queue WHERE id = @id", conn, tx);
        consume.Parameters.AddWithValue("id", e.QueueRowId);
        var consumed = await consume.ExecuteNonQueryAsync(ct) == 1;
        if (!inserted && consumed)
        {
            // The same event again: its blob reference was already taken over by the first row.
            await BlobStore.AdjustReferencesAsync(conn, tx, [(e.BlobDomain, e.BlobHash, -1)], ct);
        }
        await tx.CommitAsync(ct);
        return inserted;
    }

    public async Task<List<OutboundRow>> LoadAsync(string destination, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("outbound.load");
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, destination, recipients, sender, blob_domain, blob_hash, size, received_at, dsn, attempts, next_attempt, last_error,
                   delay_notified, require_tls
            FROM outbound_message WHERE destination = @d ORDER BY received_at, id
            """);
        cmd.Parameters.AddWithValue("d", destination);
        var list = new List<OutboundRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(new OutboundRow(r.GetGuid(0), r.GetString(1), (string[])r[2], r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                (byte[])r[5], r.GetInt64(6), r.GetFieldValue<DateTimeOffset>(7), r.IsDBNull(8) ? null : r.GetString(8), r.GetInt32(9),
                r.GetFieldValue<DateTimeOffset>(10), r.IsDBNull(11) ? null : r.GetString(11), r.GetBoolean(12), r.GetBoolean(13)));
        }
        return list;
    }

    /// <summary>The message has left (or bounced) for every recipient: its row goes and its blob reference with it.</summary>
    public async Task CompleteAsync(OutboundRow row, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("outbound.complete");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand("DELETE FROM outbound_message WHERE id = @id", conn, tx);
        delete.Parameters.AddWithValue("id", row.Id);
        if (await delete.ExecuteNonQueryAsync(ct) == 1)
            await BlobStore.AdjustReferencesAsync(conn, tx, [(row.BlobDomain, row.BlobHash, -1)], ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Some recipients are still to be tried: they stay, with the next attempt's time and the last error.</summary>
    public async Task DeferAsync(OutboundRow row, IReadOnlyList<string> remaining, DateTimeOffset next, string error, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("outbound.defer");
        await using var cmd = dataSource.CreateCommand(
            "UPDATE outbound_message SET recipients = @r, attempts = attempts + 1, next_attempt = @n, last_error = @e WHERE id = @id");
        cmd.Parameters.AddWithValue("id", row.Id);
        cmd.Parameters.AddWithValue("r", remaining.ToArray());
        cmd.Parameters.AddWithValue("n", next);
        cmd.Parameters.AddWithValue("e", error.Length > 1000 ? error[..1000] : error);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task MarkDelayNotifiedAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE outbound_message SET delay_notified = true WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Appends one line per recipient to the send log.</summary>
    public async Task LogAttemptsAsync(OutboundRow row, IReadOnlyList<AttemptLog> attempts, CancellationToken ct = default)
    {
        if (attempts.Count == 0) return;
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO outbound_attempt (message_id, sender, recipient, destination, at, link, remote, outcome, reply)
            SELECT @id, @sender, r, @dest, @at, @link, rem, o, rep FROM unnest(@r, @rem, @o, @rep) AS t(r, rem, o, rep)
            """);
        cmd.Parameters.AddWithValue("id", row.Id);
        cmd.Parameters.AddWithValue("sender", (object?)row.Sender ?? DBNull.Value);
        cmd.Parameters.AddWithValue("dest", row.Destination);
        cmd.Parameters.AddWithValue("at", attempts[0].At);
        cmd.Parameters.AddWithValue("link", attempts[0].Link);
        cmd.Parameters.AddWithValue("r", attempts.Select(a => a.Recipient).ToArray());
        cmd.Parameters.AddWithValue("rem", attempts.Select(a => a.Remote ?? "").ToArray());
        cmd.Parameters.AddWithValue("o", attempts.Select(a => a.Outcome).ToArray());
        cmd.Parameters.AddWithValue("rep", attempts.Select(a => a.Reply.Length > 1000 ? a.Reply[..1000] : a.Reply).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The send log of one sender, newest first.</summary>
    public async Task<List<AttemptLog>> AttemptsOfSenderAsync(string sender, int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT recipient, at, link, remote, outcome, reply, message_id FROM outbound_attempt WHERE sender = @s ORDER BY at DESC, id DESC LIMIT @l");
        cmd.Parameters.AddWithValue("s", sender);
        cmd.Parameters.AddWithValue("l", limit);
        var list = new List<AttemptLog>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new AttemptLog(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetString(2), r.GetString(3) is { Length: > 0 } rem ? rem : null,
                r.GetString(4), r.GetString(5), r.GetGuid(6)));
        return list;
    }

    /// <summary>Every destination with queued messages (admin view).</summary>
    public async Task<List<string>> DestinationsAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT DISTINCT destination FROM outbound_message ORDER BY 1");
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(r.GetString(0));
        return list;
    }
}
