using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Grains.Audit;
using GrainMail.Storage.Audit;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// The audit log (issue 16): the hash chain over real PostgreSQL (concurrent appends, rows changed
/// or deleted by SQL, pruning with a fake clock), and the admin API's actions recorded through the
/// real host (actor, role, action, target, result; a 403 outside scope), searched, exported and
/// verified over HTTP and with <c>./grainmail audit verify</c>.
/// </summary>
public sealed class AuditLogTests(AdminAccessFixture fixture) : IClassFixture<AdminAccessFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private sealed class FakeClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>A database of its own (the chain tests break it on purpose).</summary>
    private static async Task<(NpgsqlDataSource Db, AuditLog Log, AuditReader Reader)> OwnLog(TimeProvider? clock = null)
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        var db = NpgsqlDataSource.Create(await pg.NewDatabaseAsync("audit"));
        return (db, new AuditLog(db, clock ?? TimeProvider.System), new AuditReader(db));
    }

    private static AuditRecord Record(int i, string? detail = null) =>
        new($"admin{i % 3}@a.test", "domain-admin", "192.0.2.1", "account.update", $"user{i}@a.test", "ok", detail ?? $"{{\"n\":{i}}}");

    private static async Task Exec(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task The_chain_verifies_after_concurrent_appends_from_several_tasks()
    {
        var (db, log, reader) = await OwnLog();
        await using var _ = db;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++) await log.AppendAsync(Record(t * 100 + i));
        })));
        var report = await reader.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(200, report.Checked);
        Assert.Equal(200, report.LastId);
        // Every entry has its own id (one order), and each follows the one before.
        var all = await reader.SearchAsync(new AuditSearch(Limit: 1000));
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), all.Select(e => e.Id));
        Assert.All(all.Skip(1).Zip(all), p => Assert.Equal(p.Second.Hash, p.First.PrevHash));
        Assert.Equal("a.test", all[0].Domain);
    }

    [Fact]
    public async Task A_row_updated_by_sql_is_named_as_the_break()
    {
        var (db, log, reader) = await OwnLog();
        await using var _ = db;
        for (var i = 0; i < 20; i++) await log.AppendAsync(Record(i));
        Assert.True((await reader.VerifyAsync()).Intact);

        await Exec(db, "UPDATE audit_log SET result = 'denied' WHERE id = 7");
        var report = await reader.VerifyAsync();
        Assert.False(report.Intact);
        Assert.Equal(7, report.FirstBrokenId);
        Assert.Contains("changed", report.Problem);

        // Re-hashing the changed row does not help: the next row no longer follows it.
        await Exec(db, "UPDATE audit_log SET hash = sha256(hash) WHERE id = 7");
        report = await reader.VerifyAsync();
        Assert.Equal(7, report.FirstBrokenId);
    }

    [Fact]
    public async Task A_row_deleted_by_sql_is_named_and_so_is_a_deleted_tail()
    {
        var (db, log, reader) = await OwnLog();
        await using var _ = db;
        for (var i = 0; i < 12; i++) await log.AppendAsync(Record(i));

        await Exec(db, "DELETE FROM audit_log WHERE id = 12");
        var report = await reader.VerifyAsync();
        Assert.False(report.Intact);
        Assert.Equal(12, report.FirstBrokenId);
        // The next append follows the tip, not the last row left: the hole stays visible.
        await log.AppendAsync(Record(99));
        report = await reader.VerifyAsync();
        Assert.Equal(12, report.FirstBrokenId);
        Assert.Contains("missing", report.Problem);

        await Exec(db, "DELETE FROM audit_log WHERE id IN (4, 5)");
        report = await reader.VerifyAsync();
        Assert.Equal(4, report.FirstBrokenId);
        Assert.Contains("4 to 5", report.Problem);
    }

    /// <summary>
    /// What someone with write access to the database alone can do: change entry <paramref name="from"/>
    /// and re-hash it and every later entry, and move the tip along, so that the chain verifies on its own.
    /// </summary>
    private static async Task RewriteFromAsync(NpgsqlDataSource db, AuditReader reader, long from)
    {
        var entries = await reader.SearchAsync(new AuditSearch(Limit: 1000));
        var prev = entries.Single(e => e.Id == from - 1).Hash;
        foreach (var e in entries.Where(e => e.Id >= from))
        {
            var forged = e with { Actor = e.Id == from ? "someone-else" : e.Actor, PrevHash = prev };
            forged = forged with { Hash = AuditLog.ComputeHash(forged) };
            await using var cmd = db.CreateCommand("UPDATE audit_log SET actor = $1, prev_hash = $2, hash = $3 WHERE id = $4");
            cmd.Parameters.AddWithValue(forged.Actor);
            cmd.Parameters.AddWithValue(forged.PrevHash);
            cmd.Parameters.AddWithValue(forged.Hash);
            cmd.Parameters.AddWithValue(forged.Id);
            await cmd.ExecuteNonQueryAsync();
            prev = forged.Hash;
        }
        await using var head = db.CreateCommand("UPDATE audit_chain_head SET last_hash = $1");
        head.Parameters.AddWithValue(prev);
        await head.ExecuteNonQueryAsync();
    }

    /// <summary>A log of its own with ten entries, its tip anchored in a file of its own.</summary>
    private static async Task<(NpgsqlDataSource Db, AuditReader Reader, AuditAnchors Anchors, AuditAnchor Anchor)> AnchoredLog()
    {
        var (db, log, reader) = await OwnLog();
        var anchors = new AuditAnchors(Path.Combine(Path.GetTempPath(), "grainmail-test-anchors", $"{Guid.NewGuid():N}.log"));
        for (var i = 0; i < 10; i++) await log.AppendAsync(Record(i));
        var anchor = await anchors.AppendAsync(await AuditAnchors.TipAsync(db, TimeProvider.System));
        return (db, reader, anchors, anchor);
    }

    [Fact]
    public async Task A_chain_rewritten_as_a_whole_verifies_alone_but_not_against_the_anchor_written_before()
    {
        var (db, reader, anchors, anchor) = await AnchoredLog();
        await using var _ = db;
        Assert.Equal(10, anchor.Id);
        // The same tip again adds no line; the newest line is what verification reads.
        await anchors.AppendAsync(await AuditAnchors.TipAsync(db, TimeProvider.System));
        Assert.Single(await File.ReadAllLinesAsync(anchors.Path));
        Assert.True((await reader.VerifyAsync(await anchors.LatestAsync())).Intact);

        await RewriteFromAsync(db, reader, 3);
        Assert.True((await reader.VerifyAsync()).Intact); // the rewrite is consistent on its own
        var report = await reader.VerifyAsync(await anchors.LatestAsync());
        Assert.False(report.Intact);
        Assert.Equal(10, report.FirstBrokenId);
        Assert.Contains("rewritten", report.Problem);
        Assert.Equal(10, report.Anchor!.Id);
    }

    [Fact]
    public async Task Entries_removed_after_the_anchor_with_the_tip_moved_back_are_reported()
    {
        var (db, reader, anchors, _) = await AnchoredLog();
        await using var _db = db;

        await Exec(db, "DELETE FROM audit_log WHERE id > 8");
        await Exec(db, "UPDATE audit_chain_head SET last_id = 8, last_hash = (SELECT hash FROM audit_log WHERE id = 8)");
        Assert.True((await reader.VerifyAsync()).Intact);
        var report = await reader.VerifyAsync(await anchors.LatestAsync());
        Assert.False(report.Intact);
        Assert.Equal(9, report.FirstBrokenId);
        Assert.Contains("entry 10 was anchored", report.Problem);

        // A torn last line (a crash while writing) is skipped: the anchor before it still counts.
        await File.AppendAllTextAsync(anchors.Path, "2026-12-01T10:00:00.000000Z 12 abc");
        Assert.Equal(10, (await anchors.LatestAsync())!.Id);
    }

    [Fact]
    public async Task Grainmail_audit_anchor_writes_the_tip_to_the_anchor_file_and_verify_reports_it()
    {
        var domain = await fixture.NewDomain("anchor");
        await fixture.NewAccount(domain, "someone");
        var anchored = await fixture.Cli(null, "audit", "anchor");
        Assert.True(anchored.ExitCode == 0, anchored.Out + anchored.Err);
        var id = anchored.Json.GetProperty("id").GetInt64();
        var hash = anchored.Json.GetProperty("hash").GetString()!;
        var file = anchored.Json.GetProperty("file").GetString()!;
        Assert.Equal(id, (await File.ReadAllLinesAsync(file)).Select(AuditAnchors.Parse).Last()!.Id);
        Assert.Contains($" {id} {hash}", await File.ReadAllTextAsync(file));

        var verified = await fixture.Cli(null, "audit", "verify");
        Assert.True(verified.ExitCode == 0, verified.Out + verified.Err);
        Assert.True(verified.Json.GetProperty("anchoredId").GetInt64() >= id);
    }

    [Fact]
    public async Task Pruning_keeps_the_chain_head_so_the_rest_still_verifies()
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeClock(start);
        var (db, log, reader) = await OwnLog(clock);
        await using var _ = db;
        for (var i = 0; i < 10; i++) await log.AppendAsync(Record(i));
        clock.Now = start.AddDays(300);
        for (var i = 10; i < 15; i++) await log.AppendAsync(Record(i));
        clock.Now = start.AddDays(400);

        var options = new AuditOptions { RetentionDays = 365 };
        Assert.Equal(10, await AuditRetention.PruneOnceAsync(log, options, clock));
        var report = await reader.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(10, report.HeadId);
        Assert.Equal(5, report.Checked);
        Assert.Equal(0, await AuditRetention.PruneOnceAsync(log, options, clock));
        Assert.Equal(0, await AuditRetention.PruneOnceAsync(log, new AuditOptions { RetentionDays = 0 }, clock));

        // New entries continue the chain after the pruned prefix.
        await log.AppendAsync(Record(15));
        Assert.True((await reader.VerifyAsync()).Intact);

        // Everything pruned: the head alone carries the chain on.
        clock.Now = start.AddDays(800);
        Assert.Equal(6, await AuditRetention.PruneOnceAsync(log, options, clock));
        await log.AppendAsync(Record(16));
        report = await reader.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(16, report.HeadId);
        Assert.Equal(17, report.LastId);

        // The periodic service prunes on its own.
        clock.Now = start.AddDays(1200);
        using var retention = new AuditRetention(log, new AuditOptions { RetentionDays = 365, PruneEvery = TimeSpan.FromHours(1) }, clock,
            NullLogger<AuditRetention>.Instance);
        await retention.StartAsync(TestContext.Current.CancellationToken);
        await Eventually.Until(async () => (await reader.VerifyAsync()).HeadId == 17, Wait, "the retention service's first prune");
        await retention.StopAsync(TestContext.Current.CancellationToken);
        Assert.True((await reader.VerifyAsync()).Intact);
    }

    private static async Task<JsonElement[]> Entries(HttpClient client, string query)
    {
        var r = await client.GetAsync($"/api/v1/audit?{query}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToArray();
    }

    private static async Task<JsonElement> OneEntry(HttpClient client, string query, Func<JsonElement, bool> match, string what)
    {
        JsonElement found = default;
        await Eventually.Until(async () =>
        {
            var hit = (await Entries(client, query)).Where(match).ToArray();
            if (hit.Length == 0) return false;
            found = hit[^1];
            return true;
        }, Wait, what);
        return found;
    }

    private static string S(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    private static JsonElement Detail(JsonElement e) => JsonDocument.Parse(S(e, "detail")).RootElement;

    [Fact]
    public async Task Admin_actions_are_recorded_with_actor_role_action_target_and_result_and_a_refusal_too()
    {
        var a = await fixture.NewDomain("aud");
        var b = await fixture.NewDomain("aud");
        var admin = await fixture.NewAccount(a, "boss");
        await fixture.Grant(admin, "domain-admin", a);
        var auditor = await fixture.NewAccount(a, "watcher");
        await fixture.Grant(auditor, "auditor", a);
        using var adminClient = fixture.Client(await fixture.Token(admin));
        using var auditorClient = fixture.Client(await fixture.Token(auditor));

        // In scope: create an account, change it.
        var created = await adminClient.PostAsync($"/api/v1/domains/{a}/accounts", AdminAccessFixture.Json(new { localPart = "newbie", password = AdminAccessFixture.Password }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var newbie = $"newbie@{a}";
        var patched = await adminClient.PatchAsync($"/api/v1/accounts/{newbie}", AdminAccessFixture.Json(new { displayName = "New Bie" }));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        // Outside scope: refused before the endpoint runs, recorded all the same.
        var refused = await adminClient.PostAsync($"/api/v1/domains/{b}/accounts", AdminAccessFixture.Json(new { localPart = "intruder", password = AdminAccessFixture.Password }));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        // The super admin changes the domain's settings.
        var settings = await fixture.Super.PatchAsync($"/api/v1/domains/{a}", AdminAccessFixture.Json(new { accountAliasLimit = 7 }));
        Assert.Equal(HttpStatusCode.OK, settings.StatusCode);

        var create = await OneEntry(fixture.Super, $"actor={admin}&action=account.create", e => S(e, "target") == newbie, "account.create entry");
        Assert.Equal("domain-admin", S(create, "actorRole"));
        Assert.Equal("ok", S(create, "result"));
        Assert.Equal(a, S(create, "domain"));
        Assert.Equal("127.0.0.1", S(create, "clientIp"));
        Assert.Equal(201, Detail(create).GetProperty("status").GetInt32());

        var update = await OneEntry(fixture.Super, $"actor={admin}&action=account.update", e => S(e, "target") == newbie, "account.update entry");
        Assert.Equal("ok", S(update, "result"));
        var d = Detail(update);
        Assert.False(d.GetProperty("before").TryGetProperty("displayName", out var was) && was.GetString() == "New Bie");
        Assert.Equal("New Bie", d.GetProperty("after").GetProperty("displayName").GetString());

        var denied = await OneEntry(fixture.Super, $"actor={admin}&target={b}", e => S(e, "action") == "account.create", "the refused request's entry");
        Assert.Equal("denied", S(denied, "result"));
        Assert.Equal("domain-admin", S(denied, "actorRole"));
        Assert.Equal(b, S(denied, "domain"));
        Assert.Equal(403, Detail(denied).GetProperty("status").GetInt32());
        Assert.Contains("outside your scope", Detail(denied).GetProperty("reason").GetString());

        var domainSettings = await OneEntry(fixture.Super, $"actor=super&action=domain.update&target={a}", _ => true, "domain.update entry");
        Assert.Equal("super", S(domainSettings, "actorRole"));
        var sd = Detail(domainSettings);
        Assert.Equal(7, sd.GetProperty("after").GetProperty("accountAliasLimit").GetInt32());
        Assert.NotEqual(7, sd.GetProperty("before").GetProperty("accountAliasLimit").GetInt32());

        // A department PATCH with a new parent is a move (the body says so, not the route).
        async Task<long> Department(string name)
        {
            var r = await fixture.Super.PostAsync($"/api/v1/domains/{a}/departments", AdminAccessFixture.Json(new { name }));
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        }
        var sales = await Department("Sales");
        var east = await Department("East");
        var moved = await adminClient.PatchAsync($"/api/v1/domains/{a}/departments/{east}", AdminAccessFixture.Json(new { parentId = sales }));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var move = await OneEntry(fixture.Super, $"actor={admin}&action=department.move", e => S(e, "domain") == a, "department.move entry");
        Assert.Equal($"{a} id={east}", S(move, "target"));
        Assert.Equal(sales, Detail(move).GetProperty("parentId").GetInt64());

        // Reads are not recorded.
        Assert.Equal(HttpStatusCode.OK, (await adminClient.GetAsync($"/api/v1/accounts/{newbie}")).StatusCode);
        Assert.DoesNotContain(await Entries(fixture.Super, $"actor={admin}"), e => S(e, "action").EndsWith(".read", StringComparison.Ordinal));

        // The auditor sees its domain's entries, not the refusal aimed at domain B.
        var seen = await Entries(auditorClient, $"actor={admin}");
        Assert.Contains(seen, e => S(e, "action") == "account.create" && S(e, "target") == newbie);
        Assert.DoesNotContain(seen, e => S(e, "domain") == b);
        Assert.Empty(await Entries(auditorClient, $"target={b}"));
        // Search by time: nothing before the test began, all of it in a range around now.
        Assert.Empty(await Entries(fixture.Super, $"actor={admin}&to=2000-01-01T00:00:00Z"));
        Assert.NotEmpty(await Entries(fixture.Super, $"actor={admin}&from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))}"));
        // Paging: one at a time reaches the same entries.
        var firstPage = await auditorClient.GetFromJsonAsync<JsonElement>($"/api/v1/audit?actor={admin}&limit=1");
        var next = firstPage.GetProperty("next").GetInt64();
        var second = await Entries(auditorClient, $"actor={admin}&limit=1&after={next}");
        Assert.True(second.Single().GetProperty("id").GetInt64() > next);

        // A domain admin without an auditor role does not verify; a department admin does not read the log.
        Assert.Equal(HttpStatusCode.Forbidden, (await adminClient.GetAsync("/api/v1/audit/verify")).StatusCode);
        var departmentAdmin = await fixture.NewAccount(a, "deptboss");
        await fixture.Grant(departmentAdmin, "department-admin", a, sales);
        using var departmentClient = fixture.Client(await fixture.Token(departmentAdmin));
        Assert.Equal(HttpStatusCode.Forbidden, (await departmentClient.GetAsync("/api/v1/audit")).StatusCode);
        var verify = await auditorClient.GetFromJsonAsync<JsonElement>("/api/v1/audit/verify");
        Assert.True(verify.GetProperty("intact").GetBoolean(), verify.ToString());

        // CSV export, itself recorded.
        var csv = await auditorClient.GetAsync($"/api/v1/audit/export?actor={admin}");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,at,actor,role,client_ip,action,target,domain,result,detail,hash", lines[0]);
        Assert.Contains(lines, l => l.Contains($",account.create,{newbie},{a},ok,", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(b, StringComparison.Ordinal));
        await OneEntry(fixture.Super, $"actor={auditor}&action=audit.export", e => S(e, "actorRole") == "auditor", "audit.export entry");
    }

    [Fact]
    public async Task Grainmail_audit_verify_exits_non_zero_on_a_broken_chain()
    {
        var domain = await fixture.NewDomain("cli");
        await fixture.NewAccount(domain, "someone");
        var ok = await fixture.Cli(null, "audit", "verify");
        Assert.True(ok.ExitCode == 0, ok.Out + ok.Err);
        Assert.True(ok.Json.GetProperty("intact").GetBoolean());

        var entry = await OneEntry(fixture.Super, $"action=account.create&target=someone@{domain}", _ => true, "the account's entry");
        var id = entry.GetProperty("id").GetInt64();
        await fixture.Sql("UPDATE audit_log SET actor = 'nobody' WHERE id = @id", ("id", id));
        try
        {
            var broken = await fixture.Cli(null, "audit", "verify");
            Assert.Equal(1, broken.ExitCode);
            Assert.False(broken.Json.GetProperty("intact").GetBoolean());
            Assert.Equal(id, broken.Json.GetProperty("firstBrokenId").GetInt64());

            var search = await fixture.Cli(null, "audit", "search", $"target=someone@{domain}", "action=account.create");
            Assert.Equal(0, search.ExitCode);
            Assert.Equal("nobody", search.Json.GetProperty("items")[0].GetProperty("actor").GetString());
            var export = await fixture.Cli(null, "audit", "export", $"target=someone@{domain}");
            Assert.Equal(0, export.ExitCode);
            Assert.StartsWith("id,at,actor", export.Out);
        }
        finally
        {
            // Put it back: the hash matches again and the other tests' chain is whole.
            await fixture.Sql("UPDATE audit_log SET actor = 'super' WHERE id = @id", ("id", id));
        }
        Assert.Equal(0, (await fixture.Cli(null, "audit", "verify")).ExitCode);
        Assert.Equal(2, (await fixture.Cli(null, "audit", "verify-everything")).ExitCode);
    }
}
