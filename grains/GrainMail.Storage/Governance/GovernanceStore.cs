using GrainMail.Contracts;
using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Storage.Governance;

/// <summary>A message held for approval, as written in the submit transaction.</summary>
public sealed record ApprovalHoldRow(
    Guid Id, string Domain, long RuleId, string RuleName, string Reviewer, string Account, string? Sender,
    IReadOnlyList<string> Mailboxes, IReadOnlyList<string> External, IReadOnlyList<string> Lists, string? Dsn,
    IReadOnlyDictionary<string, string> RecipientDsn, bool RequireTls, string BlobDomain, byte[] BlobHash, long Size,
    string Subject, string ExpiryReason, DateTimeOffset HeldAt, DateTimeOffset ExpiresAt, bool Notified = false)
{
    public IReadOnlyList<string> Recipients => [.. Mailboxes, .. External, .. Lists];

    public HeldMessage ToContract() => new(Id, Domain, RuleName, Reviewer, Account, Sender, Recipients, Subject, Size, HeldAt, ExpiresAt);
}

/// <summary>What an account submitted, for its sent list and recall.</summary>
public sealed record SentRow(Guid Id, string Sender, string? MessageId, string Subject, DateTimeOffset SentAt,
    IReadOnlyList<string> LocalRecipients, IReadOnlyList<Guid> DeliveryIds, IReadOnlyList<string> External, IReadOnlyList<Guid> OutboundIds)
{
    public SentMessage ToContract() => new(Id, MessageId, Subject, SentAt, LocalRecipients, External, OutboundIds);
}

/// <summary>SQL of the governance tables (migration 0024).</summary>
public sealed class GovernanceStore(NpgsqlDataSource dataSource)
{
    // ---- settings ---------------------------------------------------------------------------

    public async Task<GovernanceSettings> LoadSettingsAsync(string domain)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT monitoring_enabled, monitoring_reviewer, recall_days, retention_folders, retention_days FROM governance_setting WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync();
        if (!await r.ReadAsync()) return GovernanceSettings.Default;
        var folders = (string[])r[3];
        var days = (int[])r[4];
        return new GovernanceSettings(r.GetBoolean(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetInt32(2),
            folders.Zip(days).ToDictionary(x => x.First, x => x.Second, StringComparer.Ordinal));
    }

    public async Task SaveSettingsAsync(string domain, GovernanceSettings s)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO governance_setting (domain, monitoring_enabled, monitoring_reviewer, recall_days, retention_folders, retention_days, updated_at)
            VALUES (@d, @me, @mr, @rd, @rf, @rdays, now())
            ON CONFLICT (domain) DO UPDATE SET monitoring_enabled = @me, monitoring_reviewer = @mr, recall_days = @rd,
                retention_folders = @rf, retention_days = @rdays, updated_at = now()
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("me", s.MonitoringEnabled);
        cmd.Parameters.AddWithValue("mr", (object?)s.MonitoringReviewer ?? DBNull.Value);
        cmd.Parameters.AddWithValue("rd", s.RecallDays);
        cmd.Parameters.AddWithValue("rf", s.Retention.Keys.ToArray());
        cmd.Parameters.AddWithValue("rdays", s.Retention.Values.ToArray());
        await cmd.ExecuteNonQueryAsync();
    }

    // ---- approval rules -----------------------------------------------------------------------

    public async Task<List<ApprovalRule>> LoadRulesAsync(string domain)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT id, name, senders, departments, outside_domain, to_domains, has_attachments, size_over, keywords, patterns,
                   reviewer, expire_seconds, expiry_reason
            FROM approval_rule WHERE domain = @d ORDER BY id
            """);
        cmd.Parameters.AddWithValue("d", domain);
        var list = new List<ApprovalRule>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            list.Add(new ApprovalRule(r.GetInt64(0), r.GetString(1), (string[])r[2], (long[])r[3], r.GetBoolean(4), (string[])r[5],
                r.GetBoolean(6), r.IsDBNull(7) ? null : r.GetInt64(7), (string[])r[8], (string[])r[9], r.GetString(10),
                TimeSpan.FromSeconds(r.GetInt32(11)), r.GetString(12)));
        }
        return list;
    }

    public async Task<long> AddRuleAsync(string domain, ApprovalRule rule)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO approval_rule (domain, name, senders, departments, outside_domain, to_domains, has_attachments, size_over,
                keywords, patterns, reviewer, expire_seconds, expiry_reason)
            VALUES (@d, @n, @s, @dep, @o, @td, @a, @so, @k, @p, @r, @e, @er) RETURNING id
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("n", rule.Name);
        cmd.Parameters.AddWithValue("s", rule.Senders.ToArray());
        cmd.Parameters.AddWithValue("dep", rule.Departments.ToArray());
        cmd.Parameters.AddWithValue("o", rule.OutsideDomain);
        cmd.Parameters.AddWithValue("td", rule.ToDomains.ToArray());
        cmd.Parameters.AddWithValue("a", rule.HasAttachments);
        cmd.Parameters.AddWithValue("so", (object?)rule.SizeOver ?? DBNull.Value);
        cmd.Parameters.AddWithValue("k", rule.Keywords.ToArray());
        cmd.Parameters.AddWithValue("p", rule.Patterns.ToArray());
        cmd.Parameters.AddWithValue("r", rule.Reviewer);
        cmd.Parameters.AddWithValue("e", (int)Math.Ceiling(rule.ExpireAfter.TotalSeconds));
        cmd.Parameters.AddWithValue("er", rule.ExpiryReason);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<bool> RemoveRuleAsync(string domain, long id)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM approval_rule WHERE domain = @d AND id = @id");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync() == 1;
    }

    /// <summary>The account's department ids from the root down (empty when it has no directory row).</summary>
    public async Task<long[]> DepartmentPathAsync(string address)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT d.path FROM directory_account a JOIN directory_department d ON d.id = a.department_id
            WHERE a.domain = @d AND a.local_part = @l
            """);
        cmd.Parameters.AddWithValue("d", MailAddress.DomainOf(address));
        cmd.Parameters.AddWithValue("l", address[..address.LastIndexOf('@')]);
        return await cmd.ExecuteScalarAsync() as long[] ?? [];
    }

    // ---- monitoring -------------------------------------------------------------------------

    public async Task<List<MonitoringRelation>> LoadMonitoringAsync(string domain)
    {
        await using var cmd = dataSource.CreateCommand("SELECT monitored, master, created_at FROM monitoring_relation WHERE domain = @d ORDER BY monitored");
        cmd.Parameters.AddWithValue("d", domain);
        var list = new List<MonitoringRelation>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(new MonitoringRelation(r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2)));
        return list;
    }

    public async Task<DateTimeOffset> AddMonitoringAsync(string domain, string monitored, string master)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO monitoring_relation (monitored, domain, master) VALUES (@m, @d, @ma) RETURNING created_at");
        cmd.Parameters.AddWithValue("m", monitored);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("ma", master);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return r.GetFieldValue<DateTimeOffset>(0);
    }

    public async Task<bool> RemoveMonitoringAsync(string domain, string monitored)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM monitoring_relation WHERE domain = @d AND monitored = @m");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("m", monitored);
        return await cmd.ExecuteNonQueryAsync() == 1;
    }

    // ---- held mail ----------------------------------------------------------------------------

    private const string HeldColumns =
        """
        id, domain, rule_id, rule_name, reviewer, account, sender, mailboxes, external, lists, dsn, rcpt_dsn_keys, rcpt_dsn_vals,
        require_tls, blob_domain, blob_hash, size, subject, expiry_reason, held_at, expires_at, notified
        """;

    /// <summary>Writes held messages inside the submit transaction (their blob reference is counted by the caller),
    /// with one "pending approval" line per recipient in the send log.</summary>
    public static async Task HoldAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<ApprovalHoldRow> rows)
    {
        foreach (var h in rows)
        {
            await using var cmd = new NpgsqlCommand(
                $"""
                INSERT INTO approval_held ({HeldColumns})
                VALUES (@id, @d, @rid, @rn, @rv, @a, @s, @mb, @ex, @l, @dsn, @dk, @dv, @rt, @bd, @bh, @sz, @sub, @er, @ha, @ea, false)
                """, conn, tx);
            cmd.Parameters.AddWithValue("id", h.Id);
            cmd.Parameters.AddWithValue("d", h.Domain);
            cmd.Parameters.AddWithValue("rid", h.RuleId);
            cmd.Parameters.AddWithValue("rn", h.RuleName);
            cmd.Parameters.AddWithValue("rv", h.Reviewer);
            cmd.Parameters.AddWithValue("a", h.Account);
            cmd.Parameters.AddWithValue("s", (object?)h.Sender ?? DBNull.Value);
            cmd.Parameters.AddWithValue("mb", h.Mailboxes.ToArray());
            cmd.Parameters.AddWithValue("ex", h.External.ToArray());
            cmd.Parameters.AddWithValue("l", h.Lists.ToArray());
            cmd.Parameters.AddWithValue("dsn", (object?)h.Dsn ?? DBNull.Value);
            cmd.Parameters.AddWithValue("dk", h.RecipientDsn.Keys.ToArray());
            cmd.Parameters.AddWithValue("dv", h.RecipientDsn.Values.ToArray());
            cmd.Parameters.AddWithValue("rt", h.RequireTls);
            cmd.Parameters.AddWithValue("bd", h.BlobDomain);
            cmd.Parameters.AddWithValue("bh", h.BlobHash);
            cmd.Parameters.AddWithValue("sz", h.Size);
            cmd.Parameters.AddWithValue("sub", h.Subject);
            cmd.Parameters.AddWithValue("er", h.ExpiryReason);
            cmd.Parameters.AddWithValue("ha", h.HeldAt);
            cmd.Parameters.AddWithValue("ea", h.ExpiresAt);
            await cmd.ExecuteNonQueryAsync();
            await LogAsync(conn, tx, h, "pending approval", $"held for approval by {h.Reviewer} (rule {h.RuleName})", h.HeldAt);
        }
    }

    /// <summary>One line per recipient in the sender's send log (<c>outbound_attempt</c>, link "approval").</summary>
    public static async Task LogAsync(NpgsqlConnection conn, NpgsqlTransaction tx, ApprovalHoldRow h, string outcome, string reply, DateTimeOffset at)
    {
        var recipients = h.Recipients.ToArray();
        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO outbound_attempt (message_id, sender, recipient, destination, at, link, remote, outcome, reply)
            SELECT @id, @s, r, split_part(r, '@', 2), @at, 'approval', '', @o, @rep FROM unnest(@r) AS r
            """, conn, tx);
        cmd.Parameters.AddWithValue("id", h.Id);
        // The send log is read by the submitting account.
        cmd.Parameters.AddWithValue("s", h.Account);
        cmd.Parameters.AddWithValue("at", at);
        cmd.Parameters.AddWithValue("o", outcome);
        cmd.Parameters.AddWithValue("rep", reply.Length > 1000 ? reply[..1000] : reply);
        cmd.Parameters.AddWithValue("r", recipients);
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<List<ApprovalHoldRow>> ListHeldAsync(string domain)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {HeldColumns} FROM approval_held WHERE domain = @d ORDER BY held_at, id");
        cmd.Parameters.AddWithValue("d", domain);
        return await ReadHeldAsync(cmd);
    }

    public async Task<ApprovalHoldRow?> GetHeldAsync(Guid id)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {HeldColumns} FROM approval_held WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadHeldAsync(cmd)).FirstOrDefault();
    }

    /// <summary>Held messages whose reviewer is <paramref name="reviewer"/>, in every domain.</summary>
    public async Task<List<ApprovalHoldRow>> HeldForReviewerAsync(string reviewer)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {HeldColumns} FROM approval_held WHERE reviewer = @r ORDER BY held_at, id");
        cmd.Parameters.AddWithValue("r", reviewer);
        return await ReadHeldAsync(cmd);
    }

    public async Task MarkNotifiedAsync(Guid id)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE approval_held SET notified = true WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Takes a held row inside the caller's transaction (approval): null when another decision took it first.</summary>
    public static async Task<bool> ClaimAsync(NpgsqlConnection conn, NpgsqlTransaction tx, ApprovalHoldRow h, string outcome, string reply, DateTimeOffset at)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM approval_held WHERE id = @id", conn, tx);
        cmd.Parameters.AddWithValue("id", h.Id);
        if (await cmd.ExecuteNonQueryAsync() != 1) return false;
        await BlobStore.AdjustReferencesAsync(conn, tx, [(h.BlobDomain, h.BlobHash, -1)]);
        await LogAsync(conn, tx, h, outcome, reply, at);
        return true;
    }

    /// <summary>Rejection or expiry: the row and its blob reference go, the send log says why. False when already decided.</summary>
    public async Task<bool> RemoveHeldAsync(ApprovalHoldRow h, string outcome, string reply, DateTimeOffset at)
    {
        await using var conn = await dataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        if (!await ClaimAsync(conn, tx, h, outcome, reply, at)) return false;
        await tx.CommitAsync();
        return true;
    }

    private static async Task<List<ApprovalHoldRow>> ReadHeldAsync(NpgsqlCommand cmd)
    {
        var list = new List<ApprovalHoldRow>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            var keys = (string[])r[11];
            var vals = (string[])r[12];
            list.Add(new ApprovalHoldRow(r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5),
                r.IsDBNull(6) ? null : r.GetString(6), (string[])r[7], (string[])r[8], (string[])r[9], r.IsDBNull(10) ? null : r.GetString(10),
                keys.Zip(vals).ToDictionary(x => x.First, x => x.Second, StringComparer.Ordinal), r.GetBoolean(13), r.GetString(14),
                (byte[])r[15], r.GetInt64(16), r.GetString(17), r.GetString(18), r.GetFieldValue<DateTimeOffset>(19),
                r.GetFieldValue<DateTimeOffset>(20), r.GetBoolean(21)));
        }
        return list;
    }

    // ---- sent messages ------------------------------------------------------------------------

    /// <summary>Records submissions inside the submit transaction.</summary>
    public static async Task RecordSentAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<SentRow> rows)
    {
        foreach (var s in rows)
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO sent_message (id, sender, message_id, subject, sent_at, local_recipients, delivery_ids, external, outbound_ids)
                VALUES (@id, @s, @m, @sub, @at, @lr, @di, @ex, @oi)
                """, conn, tx);
            cmd.Parameters.AddWithValue("id", s.Id);
            cmd.Parameters.AddWithValue("s", s.Sender);
            cmd.Parameters.AddWithValue("m", (object?)s.MessageId ?? DBNull.Value);
            cmd.Parameters.AddWithValue("sub", s.Subject);
            cmd.Parameters.AddWithValue("at", s.SentAt);
            cmd.Parameters.AddWithValue("lr", s.LocalRecipients.ToArray());
            cmd.Parameters.AddWithValue("di", s.DeliveryIds.ToArray());
            cmd.Parameters.AddWithValue("ex", s.External.ToArray());
            cmd.Parameters.AddWithValue("oi", s.OutboundIds.ToArray());
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private const string SentColumns = "id, sender, message_id, subject, sent_at, local_recipients, delivery_ids, external, outbound_ids";

    public async Task<List<SentRow>> SentAsync(string sender, int limit)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {SentColumns} FROM sent_message WHERE sender = @s ORDER BY sent_at DESC, id DESC LIMIT @l");
        cmd.Parameters.AddWithValue("s", sender);
        cmd.Parameters.AddWithValue("l", limit);
        return await ReadSentAsync(cmd);
    }

    /// <summary>The sender's message by submission id, outbound (sent-log) id or Message-ID (with or without angle brackets).</summary>
    public async Task<SentRow?> FindSentAsync(string sender, string id)
    {
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {SentColumns} FROM sent_message
            WHERE sender = @s AND (id = @g OR @g = ANY (outbound_ids) OR message_id = @m)
            ORDER BY sent_at DESC LIMIT 1
            """);
        cmd.Parameters.AddWithValue("s", sender);
        cmd.Parameters.AddWithValue("g", Guid.TryParse(id, out var g) ? g : Guid.Empty);
        cmd.Parameters.AddWithValue("m", id.Trim().TrimStart('<').TrimEnd('>'));
        return (await ReadSentAsync(cmd)).FirstOrDefault();
    }

    private static async Task<List<SentRow>> ReadSentAsync(NpgsqlCommand cmd)
    {
        var list = new List<SentRow>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            list.Add(new SentRow(r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3),
                r.GetFieldValue<DateTimeOffset>(4), (string[])r[5], (Guid[])r[6], (string[])r[7], (Guid[])r[8]));
        }
        return list;
    }

    // ---- retention ----------------------------------------------------------------------------

    /// <summary>Mailboxes of the domain holding at least one message that the policy makes due at <paramref name="now"/>.</summary>
    public async Task<List<string>> MailboxesWithDueMessagesAsync(string domain, IReadOnlyDictionary<string, int> policy, DateTimeOffset now)
    {
        var named = policy.Where(p => p.Key != "*").ToList();
        await using var cmd = dataSource.CreateCommand(
            """
            WITH p AS (SELECT * FROM unnest(@names, @days) AS t(name, days)),
            f AS (
                SELECT f.mailbox, f.folder_id,
                       coalesce((SELECT p.days FROM p WHERE p.name = f.name),
                                CASE f.special_use WHEN @junk THEN @junkDays WHEN @trash THEN @trashDays ELSE @allDays END) AS days
                FROM mailbox_folder f WHERE right(f.mailbox, length(@suffix)) = @suffix)
            SELECT DISTINCT f.mailbox FROM f
            WHERE f.days > 0 AND EXISTS (
                SELECT 1 FROM mailbox_message m WHERE m.mailbox = f.mailbox AND m.folder_id = f.folder_id
                  AND coalesce(m.save_date, m.internal_date) <= @now - make_interval(days => f.days))
            ORDER BY 1
            """);
        cmd.Parameters.AddWithValue("names", named.Select(p => p.Key).ToArray());
        cmd.Parameters.AddWithValue("days", named.Select(p => p.Value).ToArray());
        cmd.Parameters.AddWithValue("junk", (int)SpecialUse.Junk);
        cmd.Parameters.AddWithValue("trash", (int)SpecialUse.Trash);
        cmd.Parameters.AddWithValue("junkDays", RetentionRules.DaysFor(policy, "", SpecialUse.Junk));
        cmd.Parameters.AddWithValue("trashDays", RetentionRules.DaysFor(policy, "", SpecialUse.Trash));
        cmd.Parameters.AddWithValue("allDays", RetentionRules.DaysFor(policy, "", SpecialUse.None));
        cmd.Parameters.AddWithValue("suffix", "@" + domain);
        cmd.Parameters.AddWithValue("now", now);
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(r.GetString(0));
        return list;
    }
}
