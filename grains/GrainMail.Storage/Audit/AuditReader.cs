using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Audit;

/// <summary>A search over the log: every filter optional; <paramref name="Domains"/> null means every domain (the super admin).</summary>
/// <param name="Target">Exact target, a target that starts with it followed by a space, or the entry's domain.</param>
/// <param name="AfterId">Paging: entries with a larger id (the previous page's last id); pages go oldest first.</param>
public sealed record AuditSearch(string? Actor = null, string? Action = null, string? Target = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null, IReadOnlyList<string>? Domains = null, long AfterId = 0, int Limit = 100);

/// <summary>The outcome of walking the chain.</summary>
/// <param name="FirstBrokenId">The first entry where the chain breaks (for a gap: the first missing id).</param>
public sealed record AuditChainReport(bool Intact, long Checked, long HeadId, long LastId, long? FirstBrokenId, string? Problem)
{
    /// <summary>The anchor (outside the database) the chain was compared with; null when there was none.</summary>
    public AuditAnchor? Anchor { get; init; }
}

/// <summary>Verification and search over <c>audit_log</c>.</summary>
public sealed class AuditReader(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Walks the chain from the kept head (or the genesis) in id order, recomputing each hash:
    /// the first row whose id is not the next one (a deleted row), whose <c>prev_hash</c> is not the
    /// previous row's hash, or whose content no longer gives its hash (an UPDATE) is the break; the
    /// tip recorded by appends catches the newest rows deleted.
    /// </summary>
    /// <param name="anchor">
    /// The newest anchor written outside the database (<see cref="AuditAnchors"/>): the entry it names
    /// must still be there with the same hash, so that a chain rewritten as a whole — rows and tip
    /// together, consistent on its own — is caught too. An anchor older than the kept head (pruned
    /// since) can only be compared when it is the head itself.
    /// </param>
    public async Task<AuditChainReport> VerifyAsync(AuditAnchor? anchor = null, CancellationToken ct = default)
    {
        var report = await WalkAsync(anchor, ct);
        return report with { Anchor = anchor };
    }

    private async Task<AuditChainReport> WalkAsync(AuditAnchor? anchor, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // One snapshot for the head, the rows and the tip.
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        long headId, tipId;
        byte[] prev, tipHash;
        await using (var head = new NpgsqlCommand("SELECT pruned_through, head_hash, last_id, last_hash FROM audit_chain_head", conn, tx))
        await using (var r = await head.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) return new AuditChainReport(false, 0, 0, 0, 1, "the chain head row is missing");
            headId = r.GetInt64(0);
            prev = r.GetFieldValue<byte[]>(1);
            tipId = r.GetInt64(2);
            tipHash = r.GetFieldValue<byte[]>(3);
        }
        var expected = headId + 1;
        long count = 0;
        if (anchor is { Id: > 0 } && anchor.Id == headId && !anchor.Hash.AsSpan().SequenceEqual(prev))
            return new AuditChainReport(false, count, headId, tipId, headId, Rewritten(anchor));
        await using (var rows = new NpgsqlCommand($"SELECT {Columns} FROM audit_log ORDER BY id", conn, tx))
        await using (var r = await rows.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var e = Read(r);
                if (e.Id < expected)
                    return new AuditChainReport(false, count, headId, tipId, e.Id, $"entry {e.Id} lies before the kept head ({headId}): inserted or the head was changed");
                if (e.Id > expected)
                    return new AuditChainReport(false, count, headId, tipId, expected,
                        e.Id == expected + 1 ? $"entry {expected} is missing" : $"entries {expected} to {e.Id - 1} are missing");
                if (!e.PrevHash.AsSpan().SequenceEqual(prev))
                    return new AuditChainReport(false, count, headId, tipId, e.Id, $"entry {e.Id} does not follow entry {e.Id - 1} (prev_hash differs)");
                if (!AuditLog.ComputeHash(e).AsSpan().SequenceEqual(e.Hash))
                    return new AuditChainReport(false, count, headId, tipId, e.Id, $"entry {e.Id} was changed after it was written (its hash does not match its content)");
                if (anchor is not null && anchor.Id == e.Id && !anchor.Hash.AsSpan().SequenceEqual(e.Hash))
                    return new AuditChainReport(false, count, headId, tipId, e.Id, Rewritten(anchor));
                prev = e.Hash;
                expected++;
                count++;
            }
        }
        var last = expected - 1;
        if (last != tipId || !prev.AsSpan().SequenceEqual(tipHash))
        {
            return last < tipId
                ? new AuditChainReport(false, count, headId, tipId, last + 1,
                    last + 1 == tipId ? $"entry {tipId} (the newest) is missing" : $"entries {last + 1} to {tipId} (the newest) are missing")
                : new AuditChainReport(false, count, headId, tipId, last, $"entry {last} is not the recorded tip ({tipId})");
        }
        if (anchor is not null && anchor.Id > last)
            return new AuditChainReport(false, count, headId, tipId, last + 1,
                $"the chain ends at entry {last}, but entry {anchor.Id} was anchored at {anchor.At:u}: entries were removed and the tip moved back");
        return new AuditChainReport(true, count, headId, tipId, null, null);
    }

    private static string Rewritten(AuditAnchor anchor) =>
        $"entry {anchor.Id} is not the entry anchored outside the database at {anchor.At:u} (its hash differs): the log was rewritten";

    public async Task<IReadOnlyList<AuditEntry>> SearchAsync(AuditSearch q, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM audit_log
            WHERE id > @after
              AND (@actor::text IS NULL OR actor = @actor)
              AND (@action::text IS NULL OR action = @action OR action LIKE @action || '.%')
              AND (@target::text IS NULL OR target = @target OR starts_with(target, @target || ' ') OR domain = @target)
              AND (@from::timestamptz IS NULL OR at >= @from)
              AND (@to::timestamptz IS NULL OR at < @to)
              AND (@domains::text[] IS NULL OR domain = ANY(@domains))
            ORDER BY id
            LIMIT @limit
            """);
        cmd.Parameters.AddWithValue("after", q.AfterId);
        cmd.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = (object?)q.Actor ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("action", NpgsqlDbType.Text) { Value = (object?)q.Action ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("target", NpgsqlDbType.Text) { Value = (object?)q.Target ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = (object?)q.From ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = (object?)q.To ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("domains", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = (object?)q.Domains?.ToArray() ?? DBNull.Value });
        cmd.Parameters.AddWithValue("limit", Math.Clamp(q.Limit, 1, 1000));
        var list = new List<AuditEntry>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(Read(r));
        return list;
    }

    private const string Columns = "id, at, actor, actor_role, client_ip, action, target, domain, result, detail, prev_hash, hash";

    private static AuditEntry Read(NpgsqlDataReader r) => new(
        r.GetInt64(0), r.GetFieldValue<DateTimeOffset>(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
        r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9),
        r.GetFieldValue<byte[]>(10), r.GetFieldValue<byte[]>(11));
}
