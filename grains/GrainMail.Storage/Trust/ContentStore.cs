using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Trust;

/// <summary>One model's counts for one token (token 0: the model's message totals).</summary>
public readonly record struct TokenRow(string Owner, long Token, int Spam, int Ham);

/// <summary>A list entry as stored: scope (a mailbox address or a domain), allow or block, the entry.</summary>
public sealed record SenderListRow(string Scope, bool Allow, string Entry, DateTimeOffset CreatedAt);

/// <summary>What a learn call did.</summary>
public enum LearnOutcome { Learned, AlreadyLearned, Relearned }

/// <summary>
/// The classifier's token counts (bayes_token, bayes_learned) and the allow/block lists (sender_list),
/// migration 0023. Reading for one message is one round trip: the counts of its tokens in every model
/// asked for (global and the recipients') and the list entries of its recipients and their domains.
/// </summary>
public sealed class ContentStore(NpgsqlDataSource dataSource)
{
    public const string GlobalOwner = "";

    /// <summary>Counts of <paramref name="tokens"/> (and the totals, token 0) in the models of <paramref name="owners"/>,
    /// and the list entries whose scope is one of <paramref name="scopes"/>: one batch, one round trip.</summary>
    public async Task<(List<TokenRow> Tokens, List<SenderListRow> Lists)> ReadForMessageAsync(string[] owners, long[] tokens, string[] scopes, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        var counts = new NpgsqlBatchCommand("SELECT owner, token, spam, ham FROM bayes_token WHERE owner = ANY($1) AND token = ANY($2)");
        counts.Parameters.Add(new NpgsqlParameter { Value = owners, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        counts.Parameters.Add(new NpgsqlParameter { Value = tokens.Append(0L).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        batch.BatchCommands.Add(counts);
        var lists = new NpgsqlBatchCommand("SELECT scope, allow, entry, created_at FROM sender_list WHERE scope = ANY($1)");
        lists.Parameters.Add(new NpgsqlParameter { Value = scopes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        batch.BatchCommands.Add(lists);
        await using var r = await batch.ExecuteReaderAsync(ct);
        var rows = new List<TokenRow>();
        while (await r.ReadAsync(ct)) rows.Add(new TokenRow(r.GetString(0), r.GetInt64(1), r.GetInt32(2), r.GetInt32(3)));
        await r.NextResultAsync(ct);
        var entries = new List<SenderListRow>();
        while (await r.ReadAsync(ct)) entries.Add(new SenderListRow(r.GetString(0), r.GetBoolean(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3)));
        return (rows, entries);
    }

    /// <summary>The global model's version (migration 0046): it moves in every transaction that changes the global model's counts.</summary>
    public async Task<long> GlobalVersionAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT version FROM bayes_global_version");
        return await cmd.ExecuteScalarAsync(ct) is long v ? v : 0;
    }

    /// <summary>
    /// The whole global model, row by row to <paramref name="row"/> (token 0: the message totals), and its version, read in
    /// one snapshot, so the rows are exactly those of that version. Null (and the rows given so far are to be dropped) when
    /// the model has more than <paramref name="maxRows"/> rows: too large to keep a copy of.
    /// </summary>
    public async Task<long?> ReadGlobalModelAsync(Action<long, int, int> row, int maxRows, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        long version;
        await using (var v = new NpgsqlCommand("SELECT version FROM bayes_global_version", conn, tx))
            version = await v.ExecuteScalarAsync(ct) is long n ? n : 0;
        await using (var cmd = new NpgsqlCommand("SELECT token, spam, ham FROM bayes_token WHERE owner = $1", conn, tx))
        {
            cmd.Parameters.AddWithValue(GlobalOwner);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var rows = 0;
            while (await r.ReadAsync(ct))
            {
                if (++rows > maxRows) return null;
                row(r.GetInt64(0), r.GetInt32(1), r.GetInt32(2));
            }
        }
        await tx.CommitAsync(ct);
        return version;
    }

    /// <summary>
    /// Learns one message for one model in one transaction: nothing when it was learned as this class
    /// already; when it was learned as the other class, its tokens move from that class to this one;
    /// otherwise they are counted. <paramref name="tokens"/> must be distinct and sorted (row locks are
    /// taken in that order, so two learners never deadlock).
    /// </summary>
    public async Task<LearnOutcome> LearnAsync(string owner, byte[] message, long[] tokens, bool spam, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        bool? before;
        // One learner per model at a time (a transaction-scoped advisory lock on the owner): the check of
        // what was learned and the update of the counts must not interleave with another learn of the same message.
        await using (var cmd = new NpgsqlCommand("""
            SELECT pg_advisory_xact_lock(hashtextextended('bayes:' || $1, 0));
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue(owner);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand("SELECT spam FROM bayes_learned WHERE owner = $1 AND message = $2", conn, tx))
        {
            cmd.Parameters.AddWithValue(owner);
            cmd.Parameters.AddWithValue(message);
            before = await cmd.ExecuteScalarAsync(ct) is bool b ? b : null;
        }
        if (before == spam)
        {
            await tx.RollbackAsync(ct);
            return LearnOutcome.AlreadyLearned;
        }
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO bayes_learned (owner, message, spam) VALUES ($1, $2, $3)
            ON CONFLICT (owner, message) DO UPDATE SET spam = excluded.spam, learned_at = now()
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue(owner);
            cmd.Parameters.AddWithValue(message);
            cmd.Parameters.AddWithValue(spam);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var relearn = before is not null;
        int spamDelta = spam ? 1 : relearn ? -1 : 0, hamDelta = spam ? (relearn ? -1 : 0) : 1;
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO bayes_token (owner, token, spam, ham)
            SELECT $1, t, GREATEST($3, 0), GREATEST($4, 0) FROM unnest($2::bigint[]) AS t ORDER BY t
            ON CONFLICT (owner, token) DO UPDATE
              SET spam = GREATEST(bayes_token.spam + $3, 0), ham = GREATEST(bayes_token.ham + $4, 0)
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue(owner);
            cmd.Parameters.Add(new NpgsqlParameter { Value = new[] { 0L }.Concat(tokens).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            cmd.Parameters.AddWithValue(spamDelta);
            cmd.Parameters.AddWithValue(hamDelta);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return relearn ? LearnOutcome.Relearned : LearnOutcome.Learned;
    }

    /// <summary>How many messages a model learned of each class.</summary>
    /// <summary>
    /// Forgets everything one model learned (its token counts and which messages it learned, so the same messages
    /// can be trained again); returns the message totals it had. Under the model's learning lock: a learn running
    /// at the same time ends before it or starts after it, never half in each.
    /// </summary>
    public async Task<(int Spam, int Ham)> ResetAsync(string owner, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lk = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('bayes:' || $1, 0))", conn, tx))
        {
            lk.Parameters.AddWithValue(owner);
            await lk.ExecuteNonQueryAsync(ct);
        }
        (int Spam, int Ham) totals = (0, 0);
        await using (var t = new NpgsqlCommand("SELECT spam, ham FROM bayes_token WHERE owner = $1 AND token = 0", conn, tx))
        {
            t.Parameters.AddWithValue(owner);
            await using var r = await t.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) totals = (r.GetInt32(0), r.GetInt32(1));
        }
        // Two commands: Npgsql takes positional parameters in one statement per command only.
        foreach (var table in new[] { "bayes_token", "bayes_learned" })
        {
            await using var d = new NpgsqlCommand($"DELETE FROM {table} WHERE owner = $1", conn, tx);
            d.Parameters.AddWithValue(owner);
            await d.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return totals;
    }

    public async Task<(int Spam, int Ham)> TotalsAsync(string owner, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT spam, ham FROM bayes_token WHERE owner = $1 AND token = 0");
        cmd.Parameters.AddWithValue(owner);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetInt32(0), r.GetInt32(1)) : (0, 0);
    }

    public async Task<IReadOnlyList<SenderListRow>> ListAsync(string scope, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT scope, allow, entry, created_at FROM sender_list WHERE scope = $1 ORDER BY allow DESC, entry");
        cmd.Parameters.AddWithValue(scope);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<SenderListRow>();
        while (await r.ReadAsync(ct)) list.Add(new SenderListRow(r.GetString(0), r.GetBoolean(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3)));
        return list;
    }

    /// <summary>Adds an entry; false when it was there already.</summary>
    public async Task<bool> AddAsync(string scope, bool allow, string entry, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("INSERT INTO sender_list (scope, allow, entry) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        cmd.Parameters.AddWithValue(scope);
        cmd.Parameters.AddWithValue(allow);
        cmd.Parameters.AddWithValue(entry);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Removes an entry; false when there was none.</summary>
    public async Task<bool> RemoveAsync(string scope, bool allow, string entry, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM sender_list WHERE scope = $1 AND allow = $2 AND entry = $3");
        cmd.Parameters.AddWithValue(scope);
        cmd.Parameters.AddWithValue(allow);
        cmd.Parameters.AddWithValue(entry);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>When a mailbox's last digest went out (null: never).</summary>
    public async Task<DateTimeOffset?> LastDigestAsync(string mailbox, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT sent_at FROM quarantine_digest WHERE mailbox = $1");
        cmd.Parameters.AddWithValue(mailbox);
        return await cmd.ExecuteScalarAsync(ct) is DateTime t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
    }

    public async Task MarkDigestAsync(string mailbox, DateTimeOffset sentAt, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO quarantine_digest (mailbox, sent_at) VALUES ($1, $2)
            ON CONFLICT (mailbox) DO UPDATE SET sent_at = excluded.sent_at
            """);
        cmd.Parameters.AddWithValue(mailbox);
        cmd.Parameters.AddWithValue(sentAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Mailboxes of a domain that have held messages (whose digest may be due).</summary>
    public async Task<IReadOnlyList<string>> MailboxesWithHeldMailAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT DISTINCT mailbox FROM quarantine WHERE blob_domain = $1 ORDER BY mailbox");
        cmd.Parameters.AddWithValue(domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<string>();
        while (await r.ReadAsync(ct)) list.Add(r.GetString(0));
        return list;
    }
}
