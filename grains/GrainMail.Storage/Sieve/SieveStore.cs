using Npgsql;

namespace GrainMail.Storage.Sieve;

/// <summary>A stored script.</summary>
public sealed record StoredSieveScript(string Name, string Content, bool Active, DateTimeOffset UpdatedAt);

/// <summary>
/// Sieve scripts per account (table <c>sieve_script</c>, migration 0022) and the memory that
/// running them needs: vacation replies sent (<c>sieve_vacation</c>), redirects done per delivery
/// (<c>sieve_redirect_done</c>) and the one failure notice (<c>sieve_failure_notice</c>).
/// Writes come from the account's SieveGrain only; reads from it and from the mailbox at delivery.
/// </summary>
public sealed class SieveStore(NpgsqlDataSource dataSource)
{
    public async Task<List<StoredSieveScript>> ListAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT name, content, active, updated_at FROM sieve_script WHERE account = @a ORDER BY name");
        cmd.Parameters.AddWithValue("a", account);
        var list = new List<StoredSieveScript>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetFieldValue<DateTimeOffset>(3)));
        return list;
    }

    /// <summary>
    /// Accounts of <paramref name="domain"/> that have an active script and a script mentioning
    /// ereject: a superset of those whose active script may use it (the grain decides exactly).
    /// </summary>
    public async Task<List<string>> MayProtocolRejectAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT DISTINCT s.account FROM sieve_script s
            WHERE s.account LIKE ('%@' || @d) AND s.content ILIKE '%ereject%'
              AND EXISTS (SELECT FROM sieve_script a WHERE a.account = s.account AND a.active)
            """);
        cmd.Parameters.AddWithValue("d", domain);
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(r.GetString(0));
        return list;
    }

    /// <summary>Creates or replaces a script (its active mark stays as it was).</summary>
    public async Task PutAsync(string account, string name, string content, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO sieve_script (account, name, content) VALUES (@a, @n, @c)
            ON CONFLICT (account, name) DO UPDATE SET content = excluded.content, updated_at = now();
            DELETE FROM sieve_failure_notice WHERE account = @a;
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("n", name);
        cmd.Parameters.AddWithValue("c", content);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Makes <paramref name="name"/> the active script (null: none active).</summary>
    public async Task SetActiveAsync(string account, string? name, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            UPDATE sieve_script SET active = false WHERE account = @a AND active AND name IS DISTINCT FROM @n;
            UPDATE sieve_script SET active = true WHERE account = @a AND name = @n;
            DELETE FROM sieve_failure_notice WHERE account = @a;
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.Add(new NpgsqlParameter("n", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> DeleteAsync(string account, string name, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM sieve_script WHERE account = @a AND name = @n");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> RenameAsync(string account, string from, string to, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE sieve_script SET name = @t, updated_at = now() WHERE account = @a AND name = @f");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("f", from);
        cmd.Parameters.AddWithValue("t", to);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Every script of an account goes with it.</summary>
    public async Task DeleteAccountAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            DELETE FROM sieve_script WHERE account = @a; DELETE FROM sieve_vacation WHERE account = @a;
            DELETE FROM sieve_redirect_done WHERE account = @a; DELETE FROM sieve_failure_notice WHERE account = @a;
            """);
        cmd.Parameters.AddWithValue("a", account);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Claims the right to send a vacation reply to <paramref name="sender"/>: true (and the time
    /// recorded) when none was sent under <paramref name="handle"/> since <paramref name="notBefore"/>.
    /// One statement, so two deliveries at once cannot both claim it.
    /// </summary>
    public async Task<bool> ClaimVacationAsync(string account, string sender, string handle, DateTimeOffset now, DateTimeOffset notBefore, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO sieve_vacation (account, sender, handle, sent_at) VALUES (@a, @s, @h, @now)
            ON CONFLICT (account, sender, handle) DO UPDATE SET sent_at = excluded.sent_at WHERE sieve_vacation.sent_at < @nb
            RETURNING 1
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("s", sender.ToLowerInvariant());
        cmd.Parameters.AddWithValue("h", handle);
        cmd.Parameters.AddWithValue("now", now.UtcDateTime);
        cmd.Parameters.AddWithValue("nb", notBefore.UtcDateTime);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    public async Task<bool> RedirectDoneAsync(string account, Guid deliveryId, string target, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT 1 FROM sieve_redirect_done WHERE account = @a AND delivery_id = @d AND target = @t");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("d", deliveryId);
        cmd.Parameters.AddWithValue("t", target.ToLowerInvariant());
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    public async Task MarkRedirectDoneAsync(string account, Guid deliveryId, string target, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO sieve_redirect_done (account, delivery_id, target) VALUES (@a, @d, @t) ON CONFLICT DO NOTHING;
            DELETE FROM sieve_redirect_done WHERE done_at < now() - interval '30 days';
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("d", deliveryId);
        cmd.Parameters.AddWithValue("t", target.ToLowerInvariant());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>True the first time after the scripts last changed: the one failure notice may go.</summary>
    public async Task<bool> ClaimFailureNoticeAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO sieve_failure_notice (account, sent_at) VALUES (@a, now()) ON CONFLICT DO NOTHING RETURNING 1");
        cmd.Parameters.AddWithValue("a", account);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }
}
