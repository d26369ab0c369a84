using GrainMail.Contracts.Admin;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Admin;

/// <summary>A session row as read for a check: who, which kind, when it ends.</summary>
public sealed record StoredSession(string Account, SessionKind Kind, DateTimeOffset ExpiresAt, DateTimeOffset LastUsedAt);

/// <summary>An admin role row, with the account incarnation it was granted to.</summary>
public sealed record StoredRole(AdminRoleGrant Grant, DateTimeOffset AccountCreatedAt);

/// <summary>
/// The tables of delegated administration (migration 0015): roles, sessions, and the reads of
/// the directory (0012) that place an account or a department in the department tree.
/// </summary>
public sealed class AdminAccessStore(NpgsqlDataSource dataSource)
{
    // The department path comes with each role, so that scope checks need no second read.
    private const string RoleColumns =
        "r.id, r.account, r.role, r.domain, r.department_id, coalesce(d.path, '{}'::bigint[]), r.granted_by, r.created_at, r.account_created_at";

    private const string RoleFrom = "admin_role r LEFT JOIN directory_department d ON d.id = r.department_id";

    public async Task<bool> DomainExistsAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM mail_domain WHERE name = @d)");
        cmd.Parameters.AddWithValue("d", domain);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Inserts a grant; null when the same one exists.</summary>
    public async Task<long?> InsertRoleAsync(NewRoleGrant g, DateTimeOffset accountCreatedAt, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO admin_role (account, account_created_at, role, domain, department_id, granted_by) " +
            "VALUES (@a, @ac, @r, @d, @dep, @by) ON CONFLICT DO NOTHING RETURNING id");
        cmd.Parameters.AddWithValue("a", g.Account);
        cmd.Parameters.AddWithValue("ac", accountCreatedAt);
        cmd.Parameters.AddWithValue("r", AdminRoleNames.Of(g.Role));
        cmd.Parameters.AddWithValue("d", g.Domain);
        cmd.Parameters.Add(new NpgsqlParameter("dep", NpgsqlDbType.Bigint) { Value = (object?)g.DepartmentId ?? DBNull.Value });
        cmd.Parameters.AddWithValue("by", g.GrantedBy);
        return await cmd.ExecuteScalarAsync(ct) is long id ? id : null;
    }

    /// <summary>Drops grants made to an earlier account under the same address (deleted since).</summary>
    public async Task<int> DeleteStaleRolesAsync(string account, DateTimeOffset accountCreatedAt, CancellationToken ct = default)
    {
        // timestamptz keeps microseconds, .NET ticks: equal within a millisecond is the same account.
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM admin_role WHERE account = @a AND abs(extract(epoch FROM account_created_at - @c)) > 0.001");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("c", accountCreatedAt);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Roles, filtered by domain and/or account when given.</summary>
    public async Task<List<StoredRole>> RolesAsync(string? domain, string? account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {RoleColumns} FROM {RoleFrom} WHERE (@d::text IS NULL OR r.domain = @d) AND (@a::text IS NULL OR r.account = @a) ORDER BY r.id");
        cmd.Parameters.Add(new NpgsqlParameter("d", NpgsqlDbType.Text) { Value = (object?)domain ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("a", NpgsqlDbType.Text) { Value = (object?)account ?? DBNull.Value });
        return await ReadRoles(cmd, ct);
    }

    public async Task<StoredRole?> RoleAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {RoleColumns} FROM {RoleFrom} WHERE r.id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadRoles(cmd, ct)).FirstOrDefault();
    }

    /// <summary>Deletes a grant; returns its account, or null when there was none.</summary>
    public async Task<string?> DeleteRoleAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM admin_role WHERE id = @id RETURNING account");
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    public async Task InsertSessionAsync(byte[] tokenHash, string account, SessionKind kind, DateTimeOffset expiresAt, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO admin_session (token_hash, account, kind, expires_at) VALUES (@h, @a, @k, @e)");
        cmd.Parameters.AddWithValue("h", tokenHash);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("k", KindName(kind));
        cmd.Parameters.AddWithValue("e", expiresAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The session if it is within both limits, touching its last use (at most once per
    /// <paramref name="touchEvery"/>, so that a busy client does not write on every request).
    /// </summary>
    public async Task<StoredSession?> UseSessionAsync(byte[] tokenHash, TimeSpan idle, TimeSpan touchEvery, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            WITH live AS (
                SELECT token_hash, account, kind, expires_at, last_used_at FROM admin_session
                WHERE token_hash = @h AND expires_at > now() AND last_used_at > now() - @idle),
            touched AS (
                UPDATE admin_session s SET last_used_at = now() FROM live
                WHERE s.token_hash = live.token_hash AND live.last_used_at < now() - @touch
                RETURNING s.token_hash)
            SELECT account, kind, expires_at, last_used_at FROM live
            """);
        cmd.Parameters.AddWithValue("h", tokenHash);
        cmd.Parameters.AddWithValue("idle", idle);
        cmd.Parameters.AddWithValue("touch", touchEvery);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new StoredSession(r.GetString(0), r.GetString(1) == "user" ? SessionKind.User : SessionKind.Admin,
            r.GetFieldValue<DateTimeOffset>(2), r.GetFieldValue<DateTimeOffset>(3));
    }

    public async Task<bool> DeleteSessionAsync(byte[] tokenHash, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM admin_session WHERE token_hash = @h");
        cmd.Parameters.AddWithValue("h", tokenHash);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Ends every session of an account of the given kind.</summary>
    public async Task<int> DeleteSessionsOfAsync(string account, SessionKind kind, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM admin_session WHERE account = @a AND kind = @k");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("k", KindName(kind));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Drops sessions past either limit.</summary>
    public async Task<int> PurgeSessionsAsync(TimeSpan idle, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM admin_session WHERE expires_at <= now() OR last_used_at <= now() - @idle");
        cmd.Parameters.AddWithValue("idle", idle);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<DirectoryPlace?> AccountPlaceAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT d.path FROM directory_account a JOIN directory_department d ON d.id = a.department_id WHERE a.domain = @d AND a.local_part = @lp");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        return await cmd.ExecuteScalarAsync(ct) is long[] path ? new DirectoryPlace(domain, path) : null;
    }

    public async Task<DirectoryPlace?> DepartmentPlaceAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT domain, path FROM directory_department WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new DirectoryPlace(r.GetString(0), r.GetFieldValue<long[]>(1)) : null;
    }

    private static string KindName(SessionKind kind) => kind == SessionKind.User ? "user" : "admin";

    private static async Task<List<StoredRole>> ReadRoles(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<StoredRole>();
        while (await r.ReadAsync(ct))
        {
            AdminRoleNames.TryParse(r.GetString(2), out var kind);
            list.Add(new StoredRole(
                new AdminRoleGrant(r.GetInt64(0), r.GetString(1), kind, r.GetString(3), r.IsDBNull(4) ? null : r.GetInt64(4),
                    r.GetFieldValue<long[]>(5), r.GetString(6), r.GetFieldValue<DateTimeOffset>(7)),
                r.GetFieldValue<DateTimeOffset>(8)));
        }
        return list;
    }
}
