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
/// <param name="Domain">The domain the target belongs to (what an auditor's scope filters on); when null, the domain of a target of the form <c>local@domain</c>.</param>
public sealed record AuditRecord(string Actor, string ActorRole, string ClientIp, string Action, string Target, string Result,
    string? Detail = null, string? Domain = null);

/// <summary>A stored entry, with its place in the chain.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string ActorRole, string ClientIp, string Action,
    string Target, string? Domain, string Result, string? Detail, byte[] PrevHash, byte[] Hash);

/// <summary>
/// The append-only, hash-chained audit log in PostgreSQL. An append locks the one row of
/// <c>audit_chain_head</c>, so the chain has one order across every silo and gateway, and moves
/// its tip in the same short transaction, so security events never wait long behind each other.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly byte[] GenesisHash = new byte[32];

    public async Task<AuditEntry> AppendAsync(AuditRecord record, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long lastId;
        byte[] prev;
        // The tip, not max(id): after the newest rows are deleted by hand, the next entry still
        // follows the deleted one, and the gap stays visible to verification.
        await using (var tip = new NpgsqlCommand("SELECT last_id, last_hash FROM audit_chain_head FOR UPDATE", conn, tx))
        await using (var r = await tip.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) throw new InvalidOperationException("audit_chain_head has no row (migration 0019 inserts it)");
            lastId = r.GetInt64(0);
            prev = r.GetFieldValue<byte[]>(1);
        }
        // Microsecond precision: what PostgreSQL stores, so the hash recomputed from the row matches.
        var now = clock.GetUtcNow();
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
        var entry = new AuditEntry(lastId + 1, at, record.Actor, record.ActorRole, record.ClientIp, record.Action,
            record.Target, record.Domain ?? DomainOfTarget(record.Target), record.Result, record.Detail, prev, []);
        entry = entry with { Hash = ComputeHash(entry) };
        await using (var insert = new NpgsqlCommand("""
            WITH row AS (
                INSERT INTO audit_log (id, at, actor, actor_role, client_ip, action, target, domain, result, detail, prev_hash, hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                RETURNING id, hash)
            UPDATE audit_chain_head SET last_id = row.id, last_hash = row.hash FROM row
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(entry.Id);
            insert.Parameters.AddWithValue(entry.At);
            insert.Parameters.AddWithValue(entry.Actor);
            insert.Parameters.AddWithValue(entry.ActorRole);
            insert.Parameters.AddWithValue(entry.ClientIp);
            insert.Parameters.AddWithValue(entry.Action);
            insert.Parameters.AddWithValue(entry.Target);
            insert.Parameters.AddWithValue((object?)entry.Domain ?? DBNull.Value);
            insert.Parameters.AddWithValue(entry.Result);
            insert.Parameters.AddWithValue((object?)entry.Detail ?? DBNull.Value);
            insert.Parameters.AddWithValue(entry.PrevHash);
            insert.Parameters.AddWithValue(entry.Hash);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return entry;
    }

    /// <summary>The domain of a target written as <c>local@domain</c> (lower case); null for anything else.</summary>
    public static string? DomainOfTarget(string target)
    {
        var at = target.LastIndexOf('@');
        if (at <= 0 || at == target.Length - 1 || target.AsSpan().IndexOfAny(" <>/") >= 0) return null;
        return target[(at + 1)..].ToLowerInvariant();
    }

    /// <summary>
    /// Removes the entries older than <paramref name="cutoff"/> — a prefix of the chain, up to the
    /// newest entry before the cutoff — and keeps the last removed entry's id and hash as the chain's
    /// head, so the first remaining entry still verifies. Returns how many were removed.
    /// </summary>
    public async Task<int> PruneAsync(DateTimeOffset cutoff, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The same lock as appends: the head and the rows move together.
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM audit_chain_head FOR UPDATE", conn, tx))
            await lockRow.ExecuteNonQueryAsync(ct);
        long through;
        byte[] hash;
        await using (var last = new NpgsqlCommand("""
            SELECT id, hash FROM audit_log WHERE id = (SELECT max(id) FROM audit_log WHERE at < $1)
            """, conn, tx))
        {
            last.Parameters.AddWithValue(cutoff);
            await using var r = await last.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return 0;
            through = r.GetInt64(0);
            hash = r.GetFieldValue<byte[]>(1);
        }
        int removed;
        await using (var delete = new NpgsqlCommand("""
            DELETE FROM audit_log WHERE id <= $1
            """, conn, tx))
        {
            delete.Parameters.AddWithValue(through);
            removed = await delete.ExecuteNonQueryAsync(ct);
        }
        await using (var head = new NpgsqlCommand("UPDATE audit_chain_head SET pruned_through = $1, head_hash = $2", conn, tx))
        {
            head.Parameters.AddWithValue(through);
            head.Parameters.AddWithValue(hash);
            await head.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return removed;
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
        Field(e.Domain);
        Field(e.Result);
        Field(e.Detail);
        hash.AppendData(e.PrevHash);
        return hash.GetHashAndReset();
    }
}
