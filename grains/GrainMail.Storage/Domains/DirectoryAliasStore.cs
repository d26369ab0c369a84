using Npgsql;

namespace GrainMail.Storage.Domains;

/// <summary>
/// The alias rows of the directory (migration 0012): <c>directory_account_alias</c> (extra local
/// parts of an account) and <c>directory_domain_alias</c> (other names of a domain). DomainGrain
/// of the owning domain is the one writer and keeps them in memory; this class only reads them
/// back at activation and writes each change.
/// </summary>
public sealed class DirectoryAliasStore(NpgsqlDataSource dataSource)
{
    /// <summary>Everything a domain grain indexes at activation: its account aliases and its domain aliases.</summary>
    public async Task<(List<(string Alias, string LocalPart)> AccountAliases, List<string> DomainAliases)> LoadAsync(string domain, CancellationToken ct = default)
    {
        var accountAliases = new List<(string, string)>();
        var domainAliases = new List<string>();
        await using var cmd = dataSource.CreateCommand(
            "SELECT alias, local_part FROM directory_account_alias WHERE domain = @d " +
            "UNION ALL SELECT alias, NULL FROM directory_domain_alias WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            if (r.IsDBNull(1)) domainAliases.Add(r.GetString(0));
            else accountAliases.Add((r.GetString(0), r.GetString(1)));
        }
        return (accountAliases, domainAliases);
    }

    /// <summary>Stores an account alias; the row references the account's <c>directory_account</c> row.</summary>
    public async Task AddAccountAliasAsync(string domain, string alias, string localPart, CancellationToken ct = default)
    {
        await using var insert = dataSource.CreateCommand(
            "INSERT INTO directory_account_alias (domain, alias, local_part) VALUES (@d, @a, @l) " +
            "ON CONFLICT (domain, alias) DO UPDATE SET local_part = EXCLUDED.local_part");
        insert.Parameters.AddWithValue("d", domain);
        insert.Parameters.AddWithValue("a", alias);
        insert.Parameters.AddWithValue("l", localPart);
        await insert.ExecuteNonQueryAsync(ct);
    }

    public async Task RemoveAccountAliasAsync(string domain, string alias, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_account_alias WHERE domain = @d AND alias = @a");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("a", alias);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Every alias of one account (when the account is deleted).</summary>
    public async Task RemoveAccountAliasesOfAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_account_alias WHERE domain = @d AND local_part = @l");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", localPart);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task AddDomainAliasAsync(string alias, string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO directory_domain_alias (alias, domain) VALUES (@a, @d) ON CONFLICT (alias) DO UPDATE SET domain = EXCLUDED.domain");
        cmd.Parameters.AddWithValue("a", alias);
        cmd.Parameters.AddWithValue("d", domain);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task RemoveDomainAliasAsync(string alias, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_domain_alias WHERE alias = @a");
        cmd.Parameters.AddWithValue("a", alias);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The domain <paramref name="alias"/> is an alias of, or null (outbound signing asks this).</summary>
    public async Task<string?> PrimaryOfAsync(string alias, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT domain FROM directory_domain_alias WHERE alias = @a");
        cmd.Parameters.AddWithValue("a", alias);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }
}
