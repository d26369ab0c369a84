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
    public async Task AddAsync(string account, string id, long seq, DateTimeOffset sendAt, string json, CancellationToken ct = default) =>
        await AddAsync(account, id, seq, sendAt, json, null, null, false, ct);

    /// <summary>
    /// As <see cref="AddAsync(string, string, long, DateTimeOffset, string, CancellationToken)"/>, with the intake's id of the message,
    /// the Message-ID it left with, and whether a recipient is still queued (migration 0041).
    /// </summary>
    public async Task AddAsync(string account, string id, long seq, DateTimeOffset sendAt, string json, Guid? intakeId, string? messageId, bool open,
        CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            WITH pruned AS (
                DELETE FROM jmap_email_submission WHERE account = @a AND send_at < @old RETURNING updated_seq
            ), raised AS (
                INSERT INTO jmap_email_submission_floor (account, floor)
                SELECT @a, max(updated_seq) FROM pruned HAVING count(*) > 0
                ON CONFLICT (account) DO UPDATE SET floor = greatest(jmap_email_submission_floor.floor, excluded.floor)
            )
            INSERT INTO jmap_email_submission (account, id, created_seq, updated_seq, send_at, object, intake_id, message_id, open)
            VALUES (@a, @id, @seq, @seq, @at, @o, @intake, @mid, @open)
            """);
        cmd.Parameters.AddWithValue("intake", (object?)intakeId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("mid", (object?)messageId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("open", open);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("seq", seq);
        cmd.Parameters.AddWithValue("at", sendAt.UtcDateTime);
        cmd.Parameters.AddWithValue("old", (sendAt - Kept).UtcDateTime);
        cmd.Parameters.AddWithValue("o", json);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A live submission as its grain tracks it: the object, the intake's id and Message-ID of the message, and whether it is still open.</summary>
    public sealed record Tracked(string Id, DateTimeOffset SendAt, string Json, Guid? IntakeId, string? MessageId, bool Open);

    /// <summary>The live submissions kept (newest last) with what tracking needs.</summary>
    public async Task<List<Tracked>> ReadTrackedAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT id, send_at, object, intake_id, message_id, open FROM jmap_email_submission WHERE account = @a AND NOT destroyed ORDER BY created_seq");
        cmd.Parameters.AddWithValue("a", account);
        var list = new List<Tracked>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new Tracked(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetGuid(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetBoolean(5)));
        return list;
    }

    /// <summary>New objects for live submissions whose status changed, all at counter <paramref name="seq"/>, in one statement.</summary>
    public async Task UpdateTrackedAsync(string account, IReadOnlyList<(string Id, string Json, bool Open)> changes, long seq, CancellationToken ct = default)
    {
        if (changes.Count == 0) return;
        await using var cmd = dataSource.CreateCommand("""
            UPDATE jmap_email_submission s SET object = c.o, open = c.op, updated_seq = @seq
            FROM unnest(@ids, @o, @op) AS c(id, o, op) WHERE s.account = @a AND s.id = c.id AND NOT s.destroyed
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("seq", seq);
        cmd.Parameters.AddWithValue("ids", changes.Select(c => c.Id).ToArray());
        cmd.Parameters.AddWithValue("o", changes.Select(c => c.Json).ToArray());
        cmd.Parameters.AddWithValue("op", changes.Select(c => c.Open).ToArray());
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
