using GrainMail.Contracts.Tls;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Storage.Tls;

/// <summary>
/// <c>domain_certificate</c> (migration 0027): one certificate per domain, the private key sealed
/// under the master key and bound to the domain, so a key row copied to another domain does not open.
/// </summary>
public sealed class DomainCertificateStore(NpgsqlDataSource dataSource, KeyRing keys)
{
    private const string KeyPurpose = "tls-key";

    public async Task PutAsync(DomainCertificate certificate, DomainCertificateInfo info, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO domain_certificate (domain, chain_pem, sealed_key, names, not_before, not_after, sha256, uploaded_at)
            VALUES (@d, @c, @k, @n, @nb, @na, @h, @u)
            ON CONFLICT (domain) DO UPDATE SET chain_pem = EXCLUDED.chain_pem, sealed_key = EXCLUDED.sealed_key,
                names = EXCLUDED.names, not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after,
                sha256 = EXCLUDED.sha256, uploaded_at = EXCLUDED.uploaded_at
            """);
        cmd.Parameters.AddWithValue("d", certificate.Domain);
        cmd.Parameters.AddWithValue("c", certificate.ChainPem);
        cmd.Parameters.AddWithValue("k", keys.SealText(certificate.Domain, KeyPurpose, certificate.KeyPem));
        cmd.Parameters.AddWithValue("n", info.Names.ToArray());
        cmd.Parameters.AddWithValue("nb", info.NotBefore.UtcDateTime);
        cmd.Parameters.AddWithValue("na", info.NotAfter.UtcDateTime);
        cmd.Parameters.AddWithValue("h", info.Sha256);
        cmd.Parameters.AddWithValue("u", info.UploadedAt.UtcDateTime);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<DomainCertificateInfo?> GetAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT chain_pem, names, not_before, not_after, sha256, uploaded_at FROM domain_certificate WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var chain = r.GetString(0);
        using var leaf = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(chain);
        return new DomainCertificateInfo(domain, leaf.Subject, (string[])r[1], Utc(r.GetDateTime(2)), Utc(r.GetDateTime(3)),
            r.GetString(4), Utc(r.GetDateTime(5)), CountCertificates(chain));
    }

    public async Task<bool> DeleteAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM domain_certificate WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Count and newest upload time: changes on every put and delete (a delete lowers the count).</summary>
    public async Task<string> StampAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT count(*) || ':' || coalesce(extract(epoch FROM max(uploaded_at))::text, '-') FROM domain_certificate");
        return (string)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<DomainCertificate>> LoadAllAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT domain, chain_pem, sealed_key FROM domain_certificate ORDER BY domain");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var all = new List<DomainCertificate>();
        while (await r.ReadAsync(ct))
        {
            var domain = r.GetString(0);
            all.Add(new DomainCertificate(domain, r.GetString(1), keys.OpenText(domain, KeyPurpose, (byte[])r[2])));
        }
        return all;
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));

    private static int CountCertificates(string pem)
    {
        var count = 0;
        for (var i = pem.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal); i >= 0;
             i = pem.IndexOf("-----BEGIN CERTIFICATE-----", i + 1, StringComparison.Ordinal))
            count++;
        return count;
    }
}
