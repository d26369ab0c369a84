using Npgsql;

namespace GrainMail.Storage.Logins;

/// <summary>A bearer session of the admin or user API as its owner sees it; <paramref name="Id"/> is a prefix of the token's hash.</summary>
public sealed record WebSession(string Id, string Kind, DateTimeOffset CreatedAt, DateTimeOffset LastUsedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// Listing and ending one account's API sessions (<c>admin_session</c>, 0015). The id shown is the
/// first 16 bytes of the token's SHA-256 in hex: enough to name a session, useless to present one.
/// </summary>
public sealed class WebSessionStore(NpgsqlDataSource dataSource)
{
    public async Task<List<WebSession>> OfAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT encode(substring(token_hash FROM 1 FOR 16), 'hex'), kind, created_at, last_used_at, expires_at
            FROM admin_session WHERE account = $1 AND expires_at > now() ORDER BY created_at
            """);
        cmd.Parameters.AddWithValue(account);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<WebSession>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new WebSession(r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2), r.GetFieldValue<DateTimeOffset>(3),
                r.GetFieldValue<DateTimeOffset>(4)));
        }
        return list;
    }

    /// <summary>Ends the account's session with that id; false when it has none.</summary>
    public async Task<bool> EndAsync(string account, string id, CancellationToken ct = default)
    {
        if (id.Length != 32 || !id.All(Uri.IsHexDigit)) return false;
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM admin_session WHERE account = $1 AND substring(token_hash FROM 1 FOR 16) = decode($2, 'hex')");
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(id.ToLowerInvariant());
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Ends every API session of the account (password change, disable).</summary>
    public async Task<int> EndAllAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM admin_session WHERE account = $1");
        cmd.Parameters.AddWithValue(account);
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
