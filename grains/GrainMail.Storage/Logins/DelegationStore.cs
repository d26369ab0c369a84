using Npgsql;

namespace GrainMail.Storage.Logins;

/// <summary>One delegation: <paramref name="Owner"/> lets <paramref name="Delegate"/> into her mailbox.</summary>
public sealed record Delegation(string Owner, string Delegate, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>Delegations (<c>account_delegation</c>, 0021). Written by the owner's account grain; read at every delegated login.</summary>
public sealed class DelegationStore(NpgsqlDataSource dataSource)
{
    public async Task<bool> AddAsync(string owner, string @delegate, string createdBy, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO account_delegation (owner, delegate, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        cmd.Parameters.AddWithValue(owner);
        cmd.Parameters.AddWithValue(@delegate);
        cmd.Parameters.AddWithValue(createdBy);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<bool> RemoveAsync(string owner, string @delegate, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM account_delegation WHERE owner = $1 AND delegate = $2");
        cmd.Parameters.AddWithValue(owner);
        cmd.Parameters.AddWithValue(@delegate);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Every delegation of an account that goes away, both directions; the removed rows.</summary>
    public async Task<List<Delegation>> RemoveAllOfAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM account_delegation WHERE owner = $1 OR delegate = $1 RETURNING owner, delegate, created_by, created_at");
        cmd.Parameters.AddWithValue(account);
        return await ReadAll(cmd, ct);
    }

    public async Task<bool> IsDelegatedAsync(string owner, string @delegate, CancellationToken ct = default)
    {
        // A disabled owner lends nothing: her directory row must be enabled (accounts without one count as enabled).
        await using var cmd = dataSource.CreateCommand("""
            SELECT EXISTS (
                SELECT 1 FROM account_delegation d
                LEFT JOIN directory_account a ON a.domain = split_part(d.owner, '@', 2) AND a.local_part = split_part(d.owner, '@', 1)
                WHERE d.owner = $1 AND d.delegate = $2 AND coalesce(a.enabled, true))
            """);
        cmd.Parameters.AddWithValue(owner);
        cmd.Parameters.AddWithValue(@delegate);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Delegations the account gave and received.</summary>
    public async Task<List<Delegation>> OfAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT owner, delegate, created_by, created_at FROM account_delegation WHERE owner = $1 OR delegate = $1 ORDER BY created_at");
        cmd.Parameters.AddWithValue(account);
        return await ReadAll(cmd, ct);
    }

    private static async Task<List<Delegation>> ReadAll(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Delegation>();
        while (await r.ReadAsync(ct)) list.Add(new Delegation(r.GetString(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3)));
        return list;
    }
}
