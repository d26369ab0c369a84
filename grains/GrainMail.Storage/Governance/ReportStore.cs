using GrainMail.Contracts;
using Npgsql;

namespace GrainMail.Storage.Governance;

/// <summary>What one committed submission adds to the reports.</summary>
/// <param name="Sender">Envelope sender (null: the null reverse-path).</param>
/// <param name="AuthenticatedUser">The account that submitted it, when it was submitted by one (then it counts as sent).</param>
public sealed record ReportEvent(string? Sender, string? AuthenticatedUser, IReadOnlyList<string> Mailboxes, int ExternalRecipients, DateTimeOffset At);

public sealed record TopSender(string Account, long Sent);

public sealed record LoginCount(string Channel, string Result, string Country, string City, long Logins);

public sealed record DomainDayReport(DateOnly Day, long Received, long ReceivedInternal, long Sent, long SentExternal,
    IReadOnlyList<TopSender> TopSenders, IReadOnlyList<LoginCount> Logins);

public sealed record AccountDayReport(string Account, DateOnly Day, long Received, long Sent);

/// <summary>Today's totals of one domain, for the gauges.</summary>
public sealed record DomainToday(string Domain, long Received, long ReceivedInternal, long Sent, long SentExternal);

/// <summary>
/// The report counters (migration 0019): moved inside the submit transaction (one statement per
/// table for a whole commit batch, keys sorted so that concurrent batches lock rows in one order),
/// and read per domain and day. Logins are counted by a trigger on <c>login_log</c>.
/// </summary>
public sealed class ReportStore(NpgsqlDataSource dataSource)
{
    public const int TopSenderCount = 15;
    private const int Shards = 4;

    public static async Task AddAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<ReportEvent> events, CancellationToken ct = default)
    {
        if (events.Count == 0) return;
        var shard = (short)Random.Shared.Next(Shards);
        var domains = new SortedDictionary<(string Domain, DateOnly Day), long[]>();
        var accounts = new SortedDictionary<(string Account, DateOnly Day), (string Domain, long Received, long Sent)>();
        long[] DomainRow(string d, DateOnly day) => domains.TryGetValue((d, day), out var row) ? row : domains[(d, day)] = new long[4];
        foreach (var e in events)
        {
            var day = DateOnly.FromDateTime(e.At.UtcDateTime);
            var senderDomain = e.Sender is { } s && s.Contains('@') ? MailAddress.DomainOf(s).ToLowerInvariant() : null;
            foreach (var mailbox in e.Mailboxes)
            {
                var d = MailAddress.DomainOf(mailbox);
                var row = DomainRow(d, day);
                row[0]++;
                if (senderDomain == d) row[1]++;
                var a = accounts.GetValueOrDefault((mailbox, day), (d, 0, 0));
                accounts[(mailbox, day)] = (d, a.Received + 1, a.Sent);
            }
            if (e.AuthenticatedUser is { } user && user.Contains('@'))
            {
                var u = user.ToLowerInvariant();
                var d = MailAddress.DomainOf(u);
                var row = DomainRow(d, day);
                row[2]++;
                if (e.ExternalRecipients > 0) row[3]++;
                var a = accounts.GetValueOrDefault((u, day), (d, 0, 0));
                accounts[(u, day)] = (d, a.Received, a.Sent + 1);
            }
        }
        if (domains.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO report_domain_day (domain, day, shard, received, received_internal, sent, sent_external)
                SELECT d, day, @shard, r, ri, s, se FROM unnest(@d, @day, @r, @ri, @s, @se) AS x(d, day, r, ri, s, se) ORDER BY d, day
                ON CONFLICT (domain, day, shard) DO UPDATE SET
                    received = report_domain_day.received + EXCLUDED.received,
                    received_internal = report_domain_day.received_internal + EXCLUDED.received_internal,
                    sent = report_domain_day.sent + EXCLUDED.sent,
                    sent_external = report_domain_day.sent_external + EXCLUDED.sent_external
                """, conn, tx);
            cmd.Parameters.AddWithValue("shard", shard);
            cmd.Parameters.AddWithValue("d", domains.Keys.Select(k => k.Domain).ToArray());
            cmd.Parameters.AddWithValue("day", domains.Keys.Select(k => k.Day).ToArray());
            for (var i = 0; i < 4; i++) cmd.Parameters.AddWithValue(new[] { "r", "ri", "s", "se" }[i], domains.Values.Select(v => v[i]).ToArray());
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (accounts.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO report_account_day (account, day, domain, received, sent)
                SELECT a, day, d, r, s FROM unnest(@a, @day, @d, @r, @s) AS x(a, day, d, r, s) ORDER BY a, day
                ON CONFLICT (account, day) DO UPDATE SET
                    received = report_account_day.received + EXCLUDED.received,
                    sent = report_account_day.sent + EXCLUDED.sent
                """, conn, tx);
            cmd.Parameters.AddWithValue("a", accounts.Keys.Select(k => k.Account).ToArray());
            cmd.Parameters.AddWithValue("day", accounts.Keys.Select(k => k.Day).ToArray());
            cmd.Parameters.AddWithValue("d", accounts.Values.Select(v => v.Domain).ToArray());
            cmd.Parameters.AddWithValue("r", accounts.Values.Select(v => v.Received).ToArray());
            cmd.Parameters.AddWithValue("s", accounts.Values.Select(v => v.Sent).ToArray());
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>One report per day in [from, to] that has any counter, oldest first.</summary>
    public async Task<IReadOnlyList<DomainDayReport>> DailyAsync(string domain, DateOnly from, DateOnly to, CancellationToken ct = default)
    {
        var days = new SortedDictionary<DateOnly, (long R, long Ri, long S, long Se, List<TopSender> Top, List<LoginCount> Logins)>();
        (long, long, long, long, List<TopSender>, List<LoginCount>) Day(DateOnly d) =>
            days.TryGetValue(d, out var v) ? v : days[d] = (0, 0, 0, 0, [], []);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var cmd = new NpgsqlCommand("""
            SELECT day, sum(received)::bigint, sum(received_internal)::bigint, sum(sent)::bigint, sum(sent_external)::bigint
            FROM report_domain_day WHERE domain = @d AND day BETWEEN @from AND @to GROUP BY day
            """, conn))
        {
            Bind(cmd, domain, from, to);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var (_, _, _, _, top, logins) = Day(r.GetFieldValue<DateOnly>(0));
                days[r.GetFieldValue<DateOnly>(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), top, logins);
            }
        }
        await using (var cmd = new NpgsqlCommand($"""
            SELECT day, account, sent FROM (
                SELECT day, account, sent, row_number() OVER (PARTITION BY day ORDER BY sent DESC, account) AS n
                FROM report_account_day WHERE domain = @d AND day BETWEEN @from AND @to AND sent > 0) t
            WHERE n <= {TopSenderCount} ORDER BY day, n
            """, conn))
        {
            Bind(cmd, domain, from, to);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) Day(r.GetFieldValue<DateOnly>(0)).Item5.Add(new TopSender(r.GetString(1), r.GetInt64(2)));
        }
        await using (var cmd = new NpgsqlCommand("""
            SELECT day, channel, result, country, city, logins FROM report_login_day
            WHERE domain = @d AND day BETWEEN @from AND @to ORDER BY day, channel, result, country, city
            """, conn))
        {
            Bind(cmd, domain, from, to);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                Day(r.GetFieldValue<DateOnly>(0)).Item6.Add(new LoginCount(r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt64(5)));
        }
        return days.Select(kv => new DomainDayReport(kv.Key, kv.Value.R, kv.Value.Ri, kv.Value.S, kv.Value.Se, kv.Value.Top, kv.Value.Logins)).ToList();
    }

    /// <summary>Per account and day in [from, to], in account order.</summary>
    public async Task<IReadOnlyList<AccountDayReport>> AccountsAsync(string domain, DateOnly from, DateOnly to, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT account, day, received, sent FROM report_account_day
            WHERE domain = @d AND day BETWEEN @from AND @to ORDER BY account, day
            """, conn);
        Bind(cmd, domain, from, to);
        var list = new List<AccountDayReport>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new AccountDayReport(r.GetString(0), r.GetFieldValue<DateOnly>(1), r.GetInt64(2), r.GetInt64(3)));
        return list;
    }

    /// <summary>Every domain's counters of one day (the gauges read today's).</summary>
    public async Task<IReadOnlyList<DomainToday>> DayTotalsAsync(DateOnly day, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT domain, sum(received)::bigint, sum(received_internal)::bigint, sum(sent)::bigint, sum(sent_external)::bigint
            FROM report_domain_day WHERE day = @day GROUP BY domain ORDER BY domain
            """);
        cmd.Parameters.AddWithValue("day", day);
        var list = new List<DomainToday>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new DomainToday(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));
        return list;
    }

    /// <summary>Every domain's logins of one day by channel and result (the gauges read today's).</summary>
    public async Task<IReadOnlyList<(string Domain, string Channel, string Result, long Logins)>> LoginTotalsAsync(DateOnly day, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT domain, channel, result, sum(logins)::bigint FROM report_login_day WHERE day = @day GROUP BY domain, channel, result
            """);
        cmd.Parameters.AddWithValue("day", day);
        var list = new List<(string, string, string, long)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add((r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3)));
        return list;
    }

    private static void Bind(NpgsqlCommand cmd, string domain, DateOnly from, DateOnly to)
    {
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("from", from);
        cmd.Parameters.AddWithValue("to", to);
    }
}
