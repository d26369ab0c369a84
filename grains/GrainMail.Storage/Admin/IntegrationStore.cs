using GrainMail.Contracts.Admin;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Admin;

/// <summary>Registered integrations, their nonces and single sign-on tickets (migration 0015).</summary>
public sealed class IntegrationStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, name, domain, algorithm, public_key, allowed_sources, created_by, created_at";

    /// <summary>False when the domain is not hosted.</summary>
    public async Task<bool> InsertAsync(Integration i, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO integration (id, name, domain, algorithm, public_key, allowed_sources, created_by) " +
            "SELECT @id, @n, @d, @alg, @key, @src, @by WHERE EXISTS (SELECT 1 FROM mail_domain WHERE name = @d)");
        cmd.Parameters.AddWithValue("id", i.Id);
        cmd.Parameters.AddWithValue("n", i.Name);
        cmd.Parameters.AddWithValue("d", i.Domain);
        cmd.Parameters.AddWithValue("alg", i.Algorithm == IntegrationKeyAlgorithm.Ed25519 ? "ed25519" : "rsa");
        cmd.Parameters.AddWithValue("key", i.PublicKey);
        cmd.Parameters.AddWithValue("src", i.AllowedSources.ToArray());
        cmd.Parameters.AddWithValue("by", i.CreatedBy);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<List<Integration>> ListAsync(string? domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM integration WHERE @d::text IS NULL OR domain = @d ORDER BY domain, name");
        cmd.Parameters.Add(new NpgsqlParameter("d", NpgsqlDbType.Text) { Value = (object?)domain ?? DBNull.Value });
        return await Read(cmd, ct);
    }

    public async Task<Integration?> GetAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM integration WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return (await Read(cmd, ct)).FirstOrDefault();
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM integration WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>True the first time a nonce is used; false for a replay.</summary>
    public async Task<bool> UseNonceAsync(Guid id, string nonce, DateTimeOffset keepUntil, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO integration_nonce (integration_id, nonce, expires_at) VALUES (@id, @n, @e) ON CONFLICT DO NOTHING");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("n", nonce);
        cmd.Parameters.AddWithValue("e", keepUntil);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<int> PurgeAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "WITH n AS (DELETE FROM integration_nonce WHERE expires_at < now() RETURNING 1), " +
            "t AS (DELETE FROM sso_ticket WHERE expires_at < now() RETURNING 1) " +
            "SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM t)");
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct));
    }

    public async Task InsertTicketAsync(byte[] ticketHash, Guid integrationId, string account, DateTimeOffset expiresAt, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO sso_ticket (ticket_hash, integration_id, account, expires_at) VALUES (@h, @id, @a, @e)");
        cmd.Parameters.AddWithValue("h", ticketHash);
        cmd.Parameters.AddWithValue("id", integrationId);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("e", expiresAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes the ticket and returns its account when it was still valid: one caller wins.</summary>
    public async Task<string?> TakeTicketAsync(byte[] ticketHash, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "WITH t AS (DELETE FROM sso_ticket WHERE ticket_hash = @h RETURNING account, expires_at) SELECT account FROM t WHERE expires_at > now()");
        cmd.Parameters.AddWithValue("h", ticketHash);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    private static async Task<List<Integration>> Read(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Integration>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new Integration(r.GetGuid(0), r.GetString(1), r.GetString(2),
                r.GetString(3) == "ed25519" ? IntegrationKeyAlgorithm.Ed25519 : IntegrationKeyAlgorithm.Rsa,
                r.GetFieldValue<byte[]>(4), r.GetFieldValue<string[]>(5), r.GetString(6), r.GetFieldValue<DateTimeOffset>(7)));
        }
        return list;
    }
}
