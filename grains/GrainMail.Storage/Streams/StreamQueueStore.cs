using GrainMail.Operations;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Streams;

/// <summary>A queued stream event as read by a receiver.</summary>
public sealed record QueuedEvent(long Id, string StreamNamespace, string StreamKey, byte[] Payload, int DequeueCount);

/// <summary>An event to enqueue.</summary>
public sealed record OutgoingEvent(int QueueId, string StreamNamespace, string StreamKey, byte[] Payload);

/// <summary>
/// SQL over the partitioned <c>stream_queue</c> table. A read leases rows for a visibility
/// timeout (FOR UPDATE SKIP LOCKED, so readers never block each other); a row leased more than
/// the maximum number of times moves to <c>stream_dead_letter</c> instead of being handed out
/// again. Rows are deleted by the consumer in the transaction that applies them.
/// </summary>
public sealed class StreamQueueStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Inserts events inside the caller's transaction: one INSERT over arrays for an ordinary
    /// batch (a COPY has a fixed start-up cost that dominated small batches), a binary COPY for
    /// very large ones.
    /// </summary>
    public static async Task EnqueueAsync(NpgsqlConnection conn, IReadOnlyCollection<OutgoingEvent> events, CancellationToken ct = default)
    {
        if (events.Count == 0) return;
        if (events.Count <= 2000)
        {
            await using var insert = new NpgsqlCommand(
                """
                INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload)
                SELECT * FROM unnest(@q, @ns, @k, @p)
                """, conn);
            insert.Parameters.AddWithValue("q", events.Select(e => e.QueueId).ToArray());
            insert.Parameters.AddWithValue("ns", events.Select(e => e.StreamNamespace).ToArray());
            insert.Parameters.AddWithValue("k", events.Select(e => e.StreamKey).ToArray());
            insert.Parameters.AddWithValue("p", events.Select(e => e.Payload).ToArray());
            await insert.ExecuteNonQueryAsync(ct);
            return;
        }
        await using var importer = await conn.BeginBinaryImportAsync(
            "COPY stream_queue (queue_id, stream_ns, stream_key, payload) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var e in events)
        {
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(e.QueueId, NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(e.StreamNamespace, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(e.StreamKey, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(e.Payload, NpgsqlDbType.Bytea, ct);
        }
        await importer.CompleteAsync(ct);
    }

    public async Task EnqueueAsync(IReadOnlyCollection<OutgoingEvent> events, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await EnqueueAsync(conn, events, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Leases up to <paramref name="max"/> visible events of one queue for
    /// <paramref name="visibility"/>. Events already leased <paramref name="maxAttempts"/> times
    /// are dead-lettered instead and not returned.
    /// </summary>
    public async Task<List<QueuedEvent>> LeaseAsync(int queueId, int max, TimeSpan visibility, int maxAttempts, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("queue.lease");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // A lease need not survive a crash: a lost lease only makes its rows visible again, and a
        // lost dead-letter move is made again by the next read. So the lease does not wait for its
        // WAL flush, which would otherwise cost every read of a busy queue one fsync on top of the
        // consumer's own.
        await using (var async = new NpgsqlCommand("SET LOCAL synchronous_commit = off", conn, tx))
        {
            await async.ExecuteNonQueryAsync(ct);
        }
        await using (var dead = new NpgsqlCommand(
            """
            WITH gone AS (
                DELETE FROM stream_queue WHERE id IN (
                    SELECT id FROM stream_queue
                    WHERE queue_id = @q AND visible_at <= now() AND dequeue_count >= @max
                    ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
                RETURNING *)
            INSERT INTO stream_dead_letter (id, queue_id, stream_ns, stream_key, payload, enqueued_at, dequeue_count, reason)
            SELECT id, queue_id, stream_ns, stream_key, payload, enqueued_at, dequeue_count, 'delivery failed ' || dequeue_count || ' times'
            FROM gone
            """, conn, tx))
        {
            dead.Parameters.AddWithValue("q", queueId);
            dead.Parameters.AddWithValue("max", maxAttempts);
            var moved = await dead.ExecuteNonQueryAsync(ct);
            if (moved > 0) GrainMailMeters.DeadLetters.Add(moved, new KeyValuePair<string, object?>("reason", "max_attempts"));
        }
        var list = new List<QueuedEvent>();
        await using (var lease = new NpgsqlCommand(
            """
            UPDATE stream_queue s SET visible_at = now() + @vis, dequeue_count = s.dequeue_count + 1
            FROM (SELECT id FROM stream_queue
                  WHERE queue_id = @q AND visible_at <= now() AND dequeue_count < @max
                  ORDER BY id LIMIT @n FOR UPDATE SKIP LOCKED) picked
            WHERE s.id = picked.id
            RETURNING s.id, s.stream_ns, s.stream_key, s.payload, s.dequeue_count
            """, conn, tx))
        {
            lease.Parameters.AddWithValue("q", queueId);
            lease.Parameters.AddWithValue("max", maxAttempts);
            lease.Parameters.AddWithValue("n", max);
            lease.Parameters.AddWithValue("vis", visibility);
            await using var r = await lease.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                list.Add(new QueuedEvent(r.GetInt64(0), r.GetString(1), r.GetString(2), (byte[])r[3], r.GetInt32(4)));
            }
        }
        await tx.CommitAsync(ct);
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    /// <summary>Moves one event to the dead letters with a reason; false when it is no longer queued.</summary>
    public async Task<bool> DeadLetterAsync(long id, string reason, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            WITH gone AS (DELETE FROM stream_queue WHERE id = @id RETURNING *)
            INSERT INTO stream_dead_letter (id, queue_id, stream_ns, stream_key, payload, enqueued_at, dequeue_count, reason)
            SELECT id, queue_id, stream_ns, stream_key, payload, enqueued_at, dequeue_count, @reason FROM gone
            """);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("reason", reason);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Deletes consumed events (used for events with no consumer-side transaction).</summary>
    public async Task DeleteAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return;
        await using var cmd = dataSource.CreateCommand("DELETE FROM stream_queue WHERE id = ANY(@ids)");
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Makes every leased event of a partition visible again; returns how many.</summary>
    public async Task<int> ReleaseLeasesAsync(int queueId, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE stream_queue SET visible_at = now() WHERE queue_id = @q AND visible_at > now()");
        cmd.Parameters.AddWithValue("q", queueId);
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>A dead-lettered stream event, for the operator's view.</summary>
public sealed record DeadLetterRow(long Id, string StreamNamespace, string StreamKey, byte[] Payload, DateTimeOffset EnqueuedAt,
    DateTimeOffset DeadAt, int Attempts, string Reason);

/// <summary>
/// The dead letters: events that could not be delivered (after the stream's attempts, or refused
/// by their consumer). They keep their blob references, so an operator can send one back into
/// its queue once the cause is mended (an account enabled again, a quota raised).
/// </summary>
public sealed class DeadLetterStore(NpgsqlDataSource dataSource)
{
    public async Task<List<DeadLetterRow>> ListAsync(int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, stream_ns, stream_key, payload, enqueued_at, dead_at, dequeue_count, reason
            FROM stream_dead_letter ORDER BY dead_at DESC, id DESC LIMIT @n
            """);
        cmd.Parameters.AddWithValue("n", limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<DeadLetterRow>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new DeadLetterRow(r.GetInt64(0), r.GetString(1), r.GetString(2), (byte[])r[3], r.GetFieldValue<DateTimeOffset>(4),
                r.GetFieldValue<DateTimeOffset>(5), r.GetInt32(6), r.GetString(7)));
        }
        return list;
    }

    /// <summary>Puts a dead letter back into its queue as a fresh event; false when there is no such dead letter.</summary>
    public async Task<bool> RedeliverAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            WITH back AS (DELETE FROM stream_dead_letter WHERE id = @id RETURNING queue_id, stream_ns, stream_key, payload)
            INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload)
            SELECT queue_id, stream_ns, stream_key, payload FROM back
            """);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }
}
