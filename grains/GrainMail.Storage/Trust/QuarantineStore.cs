using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Streams;
using Npgsql;
using Orleans.Runtime;

namespace GrainMail.Storage.Trust;

/// <summary>A message held in quarantine for one mailbox.</summary>
public sealed record QuarantineRow(Guid Id, string Mailbox, string? Sender, string BlobDomain, byte[] BlobHash, long Size,
    double Score, string Symbols, DateTimeOffset ReceivedAt);

/// <summary>
/// Held messages. Each row owns one reference to its blob (added by the submit that held it):
/// releasing hands that reference to a delivery event in one transaction (the mailbox copy takes
/// it over, as for any delivery); deleting gives it back, and the blob goes with its last reference.
/// </summary>
public sealed class QuarantineStore(NpgsqlDataSource dataSource, EventCodec codec, PgStreamQueueMapper mapper)
{
    /// <summary>Inserts held copies inside the submit's transaction.</summary>
    public static async Task HoldAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<QuarantineRow> rows)
    {
        if (rows.Count == 0) return;
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var q in rows)
        {
            var cmd = new NpgsqlBatchCommand("""
                INSERT INTO quarantine (id, mailbox, sender, blob_domain, blob_hash, size, score, symbols, received_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """);
            cmd.Parameters.AddWithValue(q.Id);
            cmd.Parameters.AddWithValue(q.Mailbox);
            cmd.Parameters.AddWithValue((object?)q.Sender ?? DBNull.Value);
            cmd.Parameters.AddWithValue(q.BlobDomain);
            cmd.Parameters.AddWithValue(q.BlobHash);
            cmd.Parameters.AddWithValue(q.Size);
            cmd.Parameters.AddWithValue(q.Score);
            cmd.Parameters.AddWithValue(q.Symbols);
            cmd.Parameters.AddWithValue(q.ReceivedAt);
            batch.BatchCommands.Add(cmd);
        }
        await batch.ExecuteNonQueryAsync();
    }

    /// <summary>Held messages of one mailbox, or of every mailbox of a domain, oldest first.</summary>
    public async Task<IReadOnlyList<QuarantineRow>> ListAsync(string? mailbox, string? domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT id, mailbox, sender, blob_domain, blob_hash, size, score, symbols, received_at FROM quarantine
            WHERE ($1::text IS NULL OR mailbox = $1) AND ($2::text IS NULL OR blob_domain = $2)
            ORDER BY received_at, id LIMIT 1000
            """);
        cmd.Parameters.AddWithValue((object?)mailbox ?? DBNull.Value);
        cmd.Parameters.AddWithValue((object?)domain ?? DBNull.Value);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<QuarantineRow>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new QuarantineRow(r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), (byte[])r[4],
                r.GetInt64(5), r.GetDouble(6), r.GetString(7), r.GetFieldValue<DateTimeOffset>(8)));
        }
        return list;
    }

    /// <summary>Delivers a held message to its mailbox's INBOX (the admin judged it good); false when it is not held.</summary>
    public async Task<bool> ReleaseAsync(Guid id, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await TakeAsync(conn, tx, id, ct);
        if (row is null) return false;
        var now = DateTimeOffset.UtcNow;
        var e = new DeliveryEvent(Guid.CreateVersion7(now), 0, row.Mailbox, row.Sender, row.BlobDomain, row.BlobHash, row.Size, row.ReceivedAt, null, 0);
        var streamId = StreamId.Create(DeliveryStreams.Inbound, row.Mailbox);
        await StreamQueueStore.EnqueueAsync(conn, [new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Inbound, row.Mailbox, codec.Encode(e))], ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>Deletes a held message; false when it is not held.</summary>
    public async Task<bool> DeleteAsync(Guid id, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await TakeAsync(conn, tx, id, ct);
        if (row is null) return false;
        await BlobStore.AdjustReferencesAsync(conn, tx, [(row.BlobDomain, row.BlobHash, -1L)], ct);
        await tx.CommitAsync(ct);
        return true;
    }

    private static async Task<QuarantineRow?> TakeAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            DELETE FROM quarantine WHERE id = $1
            RETURNING id, mailbox, sender, blob_domain, blob_hash, size, score, symbols, received_at
            """, conn, tx);
        cmd.Parameters.AddWithValue(id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new QuarantineRow(r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), (byte[])r[4],
            r.GetInt64(5), r.GetDouble(6), r.GetString(7), r.GetFieldValue<DateTimeOffset>(8));
    }
}
