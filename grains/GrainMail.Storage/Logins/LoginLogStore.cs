using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Logins;

/// <summary>One login attempt as written to <c>login_log</c> (0019, with 0021's domain column).</summary>
public sealed record LoginRow(
    DateTimeOffset At, string Account, string? ActingFor, string Channel, string ClientIp, string? ClientName,
    string Result, string? Reason, string? Country, string? Region, string? City)
{
    public string Domain => Account[(Account.LastIndexOf('@') + 1)..];
}

/// <summary>A stored row with its id (for paging: the next page asks for ids below the last one).</summary>
public sealed record StoredLoginRow(long Id, LoginRow Row);

/// <summary>A place as the locator names it; null parts are unknown.</summary>
public sealed record LoginPlace(string? Country, string? Region, string? City)
{
    public bool Known => Country is not null;
}

/// <summary>
/// The login log in PostgreSQL: batched inserts from the login recorder, and the reads of the
/// user's and the admin's login history and of the new-location check.
/// </summary>
public sealed class LoginLogStore(NpgsqlDataSource dataSource)
{
    /// <summary>Many rows in one statement (unnest of arrays): one round trip per batch.</summary>
    public async Task InsertAsync(IReadOnlyList<LoginRow> rows, CancellationToken ct = default)
    {
        if (rows.Count == 0) return;
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO login_log (at, account, acting_for, channel, client_ip, client_name, result, reason, country, region, city, domain)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
            """);
        void Column<T>(Func<LoginRow, T> pick) => cmd.Parameters.Add(new NpgsqlParameter { Value = rows.Select(pick).ToArray() });
        Column(r => r.At);
        Column(r => r.Account);
        Column(r => r.ActingFor);
        Column(r => r.Channel);
        Column(r => r.ClientIp);
        Column(r => r.ClientName);
        Column(r => r.Result);
        Column(r => r.Reason);
        Column(r => r.Country);
        Column(r => r.Region);
        Column(r => r.City);
        Column(r => r.Domain);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Newest first. <paramref name="account"/> matches the account that logged in and the mailbox
    /// it acted for (so A sees B's logins to her mailbox); <paramref name="departmentPath"/> limits a
    /// domain's rows to accounts in that subtree.
    /// </summary>
    public async Task<List<StoredLoginRow>> ReadAsync(string? account, string? domain, long? departmentId, long? beforeId, int limit,
        CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT l.id, l.at, l.account, l.acting_for, l.channel, l.client_ip, l.client_name, l.result, l.reason, l.country, l.region, l.city
            FROM login_log l
            WHERE ($1::text IS NULL OR l.account = $1 OR l.acting_for = $1)
              AND ($2::text IS NULL OR l.domain = $2)
              AND ($3::bigint IS NULL OR EXISTS (
                    SELECT 1 FROM directory_account a JOIN directory_department d ON d.id = a.department_id
                    WHERE a.domain = l.domain AND a.local_part = split_part(l.account, '@', 1) AND d.path @> ARRAY[$3::bigint]))
              AND ($4::bigint IS NULL OR l.id < $4)
            ORDER BY l.id DESC LIMIT $5
            """);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)account ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)domain ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (object?)departmentId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (object?)beforeId ?? DBNull.Value });
        cmd.Parameters.AddWithValue(Math.Clamp(limit, 1, 1000));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<StoredLoginRow>();
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        while (await r.ReadAsync(ct))
        {
            list.Add(new StoredLoginRow(r.GetInt64(0), new LoginRow(r.GetFieldValue<DateTimeOffset>(1), r.GetString(2), S(3), r.GetString(4),
                r.GetString(5), S(6), r.GetString(7), S(8), S(9), S(10), S(11))));
        }
        return list;
    }

    /// <summary>The places of the account's successful logins since <paramref name="since"/>, each with its last use.</summary>
    public async Task<List<(LoginPlace Place, DateTimeOffset LastUsed)>> RecentPlacesAsync(string account, DateTimeOffset since, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT country, region, city, max(at) FROM login_log
            WHERE account = $1 AND result = 'success' AND at > $2 AND country IS NOT NULL
            GROUP BY country, region, city
            """);
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(since);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(LoginPlace, DateTimeOffset)>();
        while (await r.ReadAsync(ct))
        {
            list.Add((new LoginPlace(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)),
                r.GetFieldValue<DateTimeOffset>(3)));
        }
        return list;
    }
}
