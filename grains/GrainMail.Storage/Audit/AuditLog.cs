using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace GrainMail.Storage.Audit;

/// <summary>One audit entry as the caller describes it; id, time and hashes are the log's.</summary>
/// <param name="Actor">Who acted: an account address, <c>super</c> (the bootstrap token), <c>integration:NAME</c> or <c>system</c>.</param>
/// <param name="ActorRole">The role the actor acted in (super, domain-admin, department-admin, auditor, user, integration, system).</param>
/// <param name="Action">A dotted verb, e.g. <c>account.create</c>, <c>login.imap</c>, <c>twofactor.enrol</c>.</param>
/// <param name="Target">What was acted on: an address, a domain, a department path, a message id.</param>
/// <param name="Result">ok, denied, failed, or a short reason.</param>
/// <param name="Detail">Before/after or other context, as JSON text when it fits.</param>
public sealed record AuditRecord(string Actor, string ActorRole, string ClientIp, string Action, string Target, string Result, string? Detail = null);

/// <summary>A stored entry, with its place in the chain.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string ActorRole, string ClientIp, string Action,
    string Target, string Result, string? Detail, byte[] PrevHash, byte[] Hash);

/// <summary>
/// The append-only, hash-chained audit log in PostgreSQL. Appends take a transaction-scoped advisory
/// lock so that the chain has one order across every silo and gateway; an entry is one short
/// transaction, so security events never wait long behind each other.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, TimeProvider clock)
{
    // Any constant that no other advisory lock in the schema uses.
    private const long ChainLock = 0x4175646974L; // "Audit"

    public static readonly byte[] GenesisHash = new byte[32];

    public async Task<AuditEntry> AppendAsync(AuditRecord record, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", conn, tx))
        {
            lockCmd.Parameters.AddWithValue(ChainLock);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        long lastId = 0;
        byte[] prev = GenesisHash;
        await using (var last = new NpgsqlCommand("""
            SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1
            """, conn, tx))
        await using (var r = await last.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct)) { lastId = r.GetInt64(0); prev = r.GetFieldValue<byte[]>(1); }
        }
        if (lastId == 0)
        {
            // Everything was pruned (or nothing was ever written): continue from the kept head.
            await using var head = new NpgsqlCommand("SELECT pruned_through, head_hash FROM audit_chain_head", conn, tx);
            await using var r = await head.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) { lastId = r.GetInt64(0); prev = r.GetFieldValue<byte[]>(1); }
        }
        // Microsecond precision: what PostgreSQL stores, so the hash recomputed from the row matches.
        var now = clock.GetUtcNow();
        var at = new DateTimeOffset(now.Ticks - now.Ticks % 10, TimeSpan.Zero);
        var entry = new AuditEntry(lastId + 1, at, record.Actor, record.ActorRole, record.ClientIp, record.Action,
            record.Target, record.Result, record.Detail, prev, []);
        entry = entry with { Hash = ComputeHash(entry) };
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO audit_log (id, at, actor, actor_role, client_ip, action, target, result, detail, prev_hash, hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(entry.Id);
            insert.Parameters.AddWithValue(entry.At);
            insert.Parameters.AddWithValue(entry.Actor);
            insert.Parameters.AddWithValue(entry.ActorRole);
            insert.Parameters.AddWithValue(entry.ClientIp);
            insert.Parameters.AddWithValue(entry.Action);
            insert.Parameters.AddWithValue(entry.Target);
            insert.Parameters.AddWithValue(entry.Result);
            insert.Parameters.AddWithValue((object?)entry.Detail ?? DBNull.Value);
            insert.Parameters.AddWithValue(entry.PrevHash);
            insert.Parameters.AddWithValue(entry.Hash);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return entry;
    }

    /// <summary>
    /// SHA-256 over the entry's fields, each length-prefixed so that no two different entries share
    /// an encoding, then the previous entry's hash.
    /// </summary>
    public static byte[] ComputeHash(AuditEntry e)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Field(string? s)
        {
            if (s is null) { hash.AppendData([0xFF, 0xFF, 0xFF, 0xFF]); return; }
            var bytes = Encoding.UTF8.GetBytes(s);
            Span<byte> len = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, bytes.Length);
            hash.AppendData(len);
            hash.AppendData(bytes);
        }
        Field(e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(e.At.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(e.Actor);
        Field(e.ActorRole);
        Field(e.ClientIp);
        Field(e.Action);
        Field(e.Target);
        Field(e.Result);
        Field(e.Detail);
        hash.AppendData(e.PrevHash);
        return hash.GetHashAndReset();
    }
}
