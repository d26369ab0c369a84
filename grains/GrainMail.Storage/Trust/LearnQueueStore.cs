using Npgsql;

namespace GrainMail.Storage.Trust;

/// <summary>One queued verdict: learn the blob's message as spam or ham for its owner's model.</summary>
public sealed record LearnRequest(long Id, string BlobDomain, byte[] BlobHash, bool Spam);

/// <summary>
/// The durable learning queue (table learn_queue, migration 0042). Rows are written by the mailbox commit that
/// carries the verdict (<see cref="Mailboxes.MailboxChange.Learn"/>); the owner's learner reads them in order,
/// applies them and deletes them.
/// </summary>
public sealed class LearnQueueStore(NpgsqlDataSource dataSource)
{
    /// <summary>The insert of a mailbox change's verdicts, for the change's own batch (one transaction with the move).</summary>
    public static NpgsqlBatchCommand Enqueue(string owner, IReadOnlyList<(string BlobDomain, byte[] BlobHash, bool Spam)> items)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO learn_queue (owner, blob_domain, blob_hash, spam)
            SELECT $1, d, h, s FROM unnest($2::text[], $3::bytea[], $4::boolean[]) WITH ORDINALITY AS x(d, h, s, n) ORDER BY n
            """);
        cmd.Parameters.AddWithValue(owner);
        cmd.Parameters.AddWithValue(items.Select(i => i.BlobDomain).ToArray());
        cmd.Parameters.AddWithValue(items.Select(i => i.BlobHash).ToArray());
        cmd.Parameters.AddWithValue(items.Select(i => i.Spam).ToArray());
        return cmd;
    }

    /// <summary>The owner's oldest queued verdicts, in the order they were given.</summary>
    public async Task<IReadOnlyList<LearnRequest>> PendingAsync(string owner, int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, blob_domain, blob_hash, spam FROM learn_queue WHERE owner = $1 ORDER BY id LIMIT $2");
        cmd.Parameters.AddWithValue(owner);
        cmd.Parameters.AddWithValue(limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<LearnRequest>();
        while (await r.ReadAsync(ct)) list.Add(new LearnRequest(r.GetInt64(0), r.GetString(1), r.GetFieldValue<byte[]>(2), r.GetBoolean(3)));
        return list;
    }

    /// <summary>Applied (or given up for good): gone from the queue.</summary>
    public async Task DeleteAsync(IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return;
        await using var cmd = dataSource.CreateCommand("DELETE FROM learn_queue WHERE id = ANY($1)");
        cmd.Parameters.AddWithValue(ids.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Owners with a verdict queued longer than <paramref name="olderThan"/> (their learner missed it: a silo stopped, say).</summary>
    public async Task<IReadOnlyList<string>> WaitingOwnersAsync(TimeSpan olderThan, int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT owner FROM learn_queue WHERE queued_at < now() - $1 GROUP BY owner ORDER BY min(id) LIMIT $2
            """);
        cmd.Parameters.AddWithValue(olderThan);
        cmd.Parameters.AddWithValue(limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<string>();
        while (await r.ReadAsync(ct)) list.Add(r.GetString(0));
        return list;
    }
}
