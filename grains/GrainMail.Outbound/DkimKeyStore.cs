using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Storage.Blobs;
using MimeKit.Cryptography;
using Npgsql;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;

namespace GrainMail.Outbound;

/// <summary>A domain's DKIM key as published: selector, algorithm, and the p= value.</summary>
public sealed record DkimPublicKey(string Selector, string Algorithm, string PublicKey, DateTimeOffset CreatedAt, bool Active)
{
    /// <summary>The TXT record at <c>selector._domainkey.domain</c>.</summary>
    public string Record => $"v=DKIM1; k={(Algorithm == "ed25519-sha256" ? "ed25519" : "rsa")}; p={PublicKey}";
}

/// <summary>
/// DKIM keys per domain in <c>dkim_key</c>: made (RSA-2048 and Ed25519, RFC 8463 recommends
/// signing with both) when a domain is created or first needed, rotated on request. Active keys
/// are cached for a few minutes per process, so signing costs no query per message.
/// </summary>
public sealed class DkimKeyStore(NpgsqlDataSource dataSource, MasterKey masterKey, TimeProvider clock)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<DkimSigner> Signers)> _signers = new();

    private static byte[] Context(string domain, string selector) => Encoding.UTF8.GetBytes($"dkim:{domain}:{selector}");

    /// <summary>Makes the first key pair of a domain unless it has active keys.</summary>
    public async Task EnsureAsync(string domain, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await LockAsync(conn, tx, domain, ct);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM dkim_key WHERE domain = @d AND active", conn, tx);
        count.Parameters.AddWithValue("d", domain);
        if ((long)(await count.ExecuteScalarAsync(ct))! == 0) await InsertPairAsync(conn, tx, domain, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>A new pair becomes active and the old keys retire (keep their DNS records until mail signed with them has arrived).</summary>
    public async Task<IReadOnlyList<DkimPublicKey>> RotateAsync(string domain, CancellationToken ct = default)
    {
        await using (var conn = await dataSource.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await LockAsync(conn, tx, domain, ct);
            await using var retire = new NpgsqlCommand("UPDATE dkim_key SET active = false WHERE domain = @d", conn, tx);
            retire.Parameters.AddWithValue("d", domain);
            await retire.ExecuteNonQueryAsync(ct);
            await InsertPairAsync(conn, tx, domain, ct);
            await tx.CommitAsync(ct);
        }
        _signers.TryRemove(domain, out _);
        _sealing.TryRemove(domain, out _);
        return await PublicKeysAsync(domain, ct);
    }

    public async Task<IReadOnlyList<DkimPublicKey>> PublicKeysAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT selector, algorithm, public_key, created_at, active FROM dkim_key WHERE domain = @d ORDER BY created_at DESC, algorithm");
        cmd.Parameters.AddWithValue("d", domain);
        var list = new List<DkimPublicKey>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new DkimPublicKey(r.GetString(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetBoolean(4)));
        return list;
    }

    /// <summary>Signers for the domain's active keys (made on first use for domains older than DKIM support).</summary>
    public async Task<IReadOnlyList<DkimSigner>> SignersAsync(string domain, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        if (_signers.TryGetValue(domain, out var cached) && now - cached.At < CacheFor) return cached.Signers;
        await EnsureAsync(domain, ct);
        await using var cmd = dataSource.CreateCommand("SELECT selector, algorithm, private_key FROM dkim_key WHERE domain = @d AND active ORDER BY algorithm DESC");
        cmd.Parameters.AddWithValue("d", domain);
        var signers = new List<DkimSigner>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var selector = r.GetString(0);
                var pkcs8 = masterKey.Unwrap((byte[])r[2], Context(domain, selector));
                var key = PrivateKeyFactory.CreateKey(pkcs8);
                var algorithm = r.GetString(1) == "ed25519-sha256" ? DkimSignatureAlgorithm.Ed25519Sha256 : DkimSignatureAlgorithm.RsaSha256;
                signers.Add(new DkimSigner(key, domain, selector, algorithm)
                {
                    HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                    BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                });
            }
        }
        _signers[domain] = (now, signers);
        return signers;
    }

    private readonly ConcurrentDictionary<string, (DateTimeOffset At, (AsymmetricKeyParameter, string)? Key)> _sealing = new(StringComparer.Ordinal);

    /// <summary>The domain's active RSA key and its selector, for ARC seals (RFC 8617 sealers and verifiers
    /// support rsa-sha256; the DKIM record under that selector is the one they look up).</summary>
    public async Task<(AsymmetricKeyParameter Key, string Selector)?> SealingKeyAsync(string domain, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        if (_sealing.TryGetValue(domain, out var cached) && now - cached.At < CacheFor) return cached.Key;
        await EnsureAsync(domain, ct);
        await using var cmd = dataSource.CreateCommand(
            "SELECT selector, private_key FROM dkim_key WHERE domain = @d AND active AND algorithm = 'rsa-sha256' ORDER BY created_at DESC LIMIT 1");
        cmd.Parameters.AddWithValue("d", domain);
        (AsymmetricKeyParameter, string)? key = null;
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct))
            {
                var selector = r.GetString(0);
                key = (PrivateKeyFactory.CreateKey(masterKey.Unwrap((byte[])r[1], Context(domain, selector))), selector);
            }
        }
        _sealing[domain] = (now, key);
        return key;
    }

    private readonly ConcurrentDictionary<string, (DateTimeOffset At, string? Domain)> _aliasOf = new(StringComparer.Ordinal);

    /// <summary>
    /// Signers for a message leaving on behalf of <paramref name="owner"/>: the owner's keys, and
    /// first the keys of the <c>From:</c> domain when that is one of the owner's domain aliases, so
    /// that mail sent as the alias carries a DKIM signature aligned with its From: (RFC 7489 3.1.1).
    /// </summary>
    public async Task<IReadOnlyList<DkimSigner>> SignersForAsync(string owner, byte[] raw, CancellationToken ct = default)
    {
        var own = await SignersAsync(owner, ct);
        var fromDomain = FromDomain(raw);
        if (fromDomain is null || fromDomain == owner || await DomainOfAliasAsync(fromDomain, ct) != owner) return own;
        return [.. await SignersAsync(fromDomain, ct), .. own];
    }

    /// <summary>The domain of the first From: mailbox, normalised; null when there is none.</summary>
    private static string? FromDomain(byte[] raw)
    {
        try
        {
            using var stream = new MemoryStream(raw, writable: false);
            var headers = MimeKit.HeaderList.Load(stream);
            var from = headers[MimeKit.HeaderId.From];
            if (from is null || !MimeKit.InternetAddressList.TryParse(from, out var list)) return null;
            var mailbox = list.Mailboxes.FirstOrDefault();
            return mailbox is null ? null : GrainMail.Contracts.MailAddress.NormalizeDomain(mailbox.Domain);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    // Cached like the keys: a domain alias added or removed is seen by signing within CacheFor.
    private async Task<string?> DomainOfAliasAsync(string name, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (_aliasOf.TryGetValue(name, out var cached) && now - cached.At < CacheFor) return cached.Domain;
        await using var cmd = dataSource.CreateCommand("SELECT domain FROM directory_domain_alias WHERE alias = @a");
        cmd.Parameters.AddWithValue("a", name);
        var domain = await cmd.ExecuteScalarAsync(ct) as string;
        _aliasOf[name] = (now, domain);
        return domain;
    }

    private static async Task LockAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string domain, CancellationToken ct)
    {
        await using var lk = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('dkim:' || @d))", conn, tx);
        lk.Parameters.AddWithValue("d", domain);
        await lk.ExecuteNonQueryAsync(ct);
    }

    private async Task InsertPairAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string domain, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        // Selectors carry the creation time, so a rotation never reuses a published name.
        var stamp = now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var rsa = RSA.Create(2048);
        var rsaKey = (rsa.ExportPkcs8PrivateKey(), Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo()));
        var ed = new Ed25519KeyPairGenerator();
        ed.Init(new Ed25519KeyGenerationParameters(new Org.BouncyCastle.Security.SecureRandom()));
        var pair = ed.GenerateKeyPair();
        var edKey = (PrivateKeyInfoFactory.CreatePrivateKeyInfo(pair.Private).GetDerEncoded(),
            Convert.ToBase64String(((Ed25519PublicKeyParameters)pair.Public).GetEncoded()));
        foreach (var (selector, algorithm, (priv, pub)) in new[] { ($"gm{stamp}r", "rsa-sha256", rsaKey), ($"gm{stamp}e", "ed25519-sha256", edKey) })
        {
            await using var insert = new NpgsqlCommand(
                """
                INSERT INTO dkim_key (domain, selector, algorithm, private_key, public_key, created_at, active)
                VALUES (@d, @s, @a, @k, @p, @t, true) ON CONFLICT (domain, selector) DO NOTHING
                """, conn, tx);
            insert.Parameters.AddWithValue("d", domain);
            insert.Parameters.AddWithValue("s", selector);
            insert.Parameters.AddWithValue("a", algorithm);
            insert.Parameters.AddWithValue("k", masterKey.Wrap(priv, Context(domain, selector)));
            insert.Parameters.AddWithValue("p", pub);
            insert.Parameters.AddWithValue("t", now);
            await insert.ExecuteNonQueryAsync(ct);
        }
    }
}
