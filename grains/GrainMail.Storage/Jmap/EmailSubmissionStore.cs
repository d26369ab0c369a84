using GrainMail.Contracts.Jmap;
using Npgsql;

namespace GrainMail.Storage.Jmap;

/// <summary>
/// JMAP EmailSubmission rows (tables <c>jmap_email_submission</c> and <c>…_floor</c>, migration 0034).
/// Written by the account's EmailSubmissionGrain only, which hands out the counter values.
/// </summary>
public sealed class EmailSubmissionStore(NpgsqlDataSource dataSource)
{
    /// <summary>How long a submission is kept (RFC 8621 7: the server may forget them after a while).</summary>
    public static readonly TimeSpan Kept = TimeSpan.FromDays(30);

    public async Task<SubmissionLog> ReadAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT id, created_seq, updated_seq, destroyed, send_at, object FROM jmap_email_submission WHERE account = @a ORDER BY created_seq;
            SELECT floor FROM jmap_email_submission_floor WHERE account = @a;
            """);
        cmd.Parameters.AddWithValue("a", account);
        var items = new List<StoredSubmission>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            items.Add(new StoredSubmission(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetBoolean(3), r.GetFieldValue<DateTimeOffset>(4), r.GetString(5)));
        await r.NextResultAsync(ct);
        var floor = await r.ReadAsync(ct) ? r.GetInt64(0) : 0;
        var state = Math.Max(floor, items.Count == 0 ? 0 : items.Max(i => i.UpdatedSeq));
        return new SubmissionLog(state, floor, items);
    }

    /// <summary>Inserts a submission and prunes the account's old ones (their counters raise the floor), in one transaction.</summary>
    public async Task AddAsync(string account, string id, long seq, DateTimeOffset sendAt, string json, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            WITH pruned AS (
                DELETE FROM jmap_email_submission WHERE account = @a AND send_at < @old RETURNING updated_seq
            ), raised AS (
                INSERT INTO jmap_email_submission_floor (account, floor)
                SELECT @a, max(updated_seq) FROM pruned HAVING count(*) > 0
                ON CONFLICT (account) DO UPDATE SET floor = greatest(jmap_email_submission_floor.floor, excluded.floor)
            )
            INSERT INTO jmap_email_submission (account, id, created_seq, updated_seq, send_at, object) VALUES (@a, @id, @seq, @seq, @at, @o)
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("seq", seq);
        cmd.Parameters.AddWithValue("at", sendAt.UtcDateTime);
        cmd.Parameters.AddWithValue("old", (sendAt - Kept).UtcDateTime);
        cmd.Parameters.AddWithValue("o", json);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Marks submissions destroyed at counter <paramref name="seq"/>; how many there were.</summary>
    public async Task<int> DestroyAsync(string account, IReadOnlyList<string> ids, long seq, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE jmap_email_submission SET destroyed = true, updated_seq = @seq WHERE account = @a AND id = ANY(@ids) AND NOT destroyed");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        cmd.Parameters.AddWithValue("seq", seq);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The account was deleted: its submissions and its floor go.</summary>
    public async Task DeleteAccountAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            DELETE FROM jmap_email_submission WHERE account = @a;
            DELETE FROM jmap_email_submission_floor WHERE account = @a;
            """);
        cmd.Parameters.AddWithValue("a", account);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
