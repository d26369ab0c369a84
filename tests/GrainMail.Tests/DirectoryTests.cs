using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains;
using GrainMail.Grains.Domains;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Storage;

namespace GrainMail.Tests;

/// <summary>The organisation's directory over the admin API and SMTP: departments, account attributes and where they act.</summary>
public sealed class DirectoryTests(SmtpHostFixture host, PostgresServer pg) : IClassFixture<SmtpHostFixture>
{
    private HttpClient Http => host.Host.Http;

    private static StringContent Json(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    private async Task<string> NewDomain()
    {
        var name = $"d{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsync("/api/v1/domains", Json(new { name }))).StatusCode);
        return name;
    }

    private async Task NewAccount(string domain, string localPart, object? extra = null)
    {
        var body = JsonSerializer.SerializeToNode(new { localPart, password = SmtpHostFixture.Password })!.AsObject();
        if (extra is not null)
            foreach (var (k, v) in JsonSerializer.SerializeToNode(extra)!.AsObject()) body[k] = v?.DeepClone();
        var r = await Http.PostAsync($"/api/v1/domains/{domain}/accounts", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
    }

    private async Task<long> NewDepartment(string domain, string name, long? parentId = null)
    {
        var r = await Http.PostAsync($"/api/v1/domains/{domain}/departments", Json(new { name, parentId }));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetInt64();
    }

    private async Task<List<JsonElement>> Departments(string domain) =>
        (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/departments")).EnumerateArray().ToList();

    private async Task<JsonElement> Department(string domain, long id) => (await Departments(domain)).Single(d => d.GetProperty("id").GetInt64() == id);

    private static async Task AssertProblem(HttpResponseMessage r, HttpStatusCode status)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{r.StatusCode}: {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    private Task<HttpResponseMessage> Patch(string path, object body) => Http.PatchAsync(path, Json(body));

    [Fact]
    public async Task Each_domain_has_a_root_department_named_after_it_that_new_accounts_join()
    {
        var d = await NewDomain();
        var root = Assert.Single(await Departments(d));
        Assert.Equal(d, root.GetProperty("name").GetString());
        Assert.Equal(1, root.GetProperty("depth").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("parentId").ValueKind);

        await NewAccount(d, "ann");
        var ann = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ann@{d}");
        Assert.Equal(root.GetProperty("id").GetInt64(), ann.GetProperty("departmentId").GetInt64());
        Assert.Equal(1, (await Departments(d)).Single().GetProperty("accountCount").GetInt32());
        // The root is the domain's own: not moved, renamed or deleted.
        var rootId = root.GetProperty("id").GetInt64();
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{rootId}", new { name = "other" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{d}/departments/{rootId}"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Departments_nest_13_levels_and_a_14th_is_refused()
    {
        var d = await NewDomain();
        long? parent = null;
        var ids = new List<long>();
        for (var level = 2; level <= 13; level++)
        {
            var id = await NewDepartment(d, $"L{level}", parent);
            ids.Add(id);
            parent = id;
        }
        var deepest = await Department(d, ids[^1]);
        Assert.Equal(13, deepest.GetProperty("depth").GetInt32());
        Assert.Equal(string.Join('/', Enumerable.Range(2, 12).Select(l => $"L{l}")), deepest.GetProperty("path").GetString());
        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/departments", Json(new { name = "L14", parentId = parent })), HttpStatusCode.BadRequest);
        Assert.Equal(13, (await Departments(d)).Count);

        // A move that would put the 13-level chain's bottom at level 14 is refused too.
        var side = await NewDepartment(d, "Side");
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{ids[0]}", new { parentId = side }), HttpStatusCode.BadRequest);
        Assert.Equal(2, (await Department(d, ids[0])).GetProperty("depth").GetInt32());
    }

    [Fact]
    public async Task A_moved_department_takes_its_subtree_and_accounts_along()
    {
        var d = await NewDomain();
        var sales = await NewDepartment(d, "Sales");
        var north = await NewDepartment(d, "North", sales);
        var beijing = await NewDepartment(d, "Beijing", north);
        var ops = await NewDepartment(d, "Ops");
        await NewAccount(d, "li", new { departmentId = beijing });

        var moved = await Patch($"/api/v1/domains/{d}/departments/{north}", new { parentId = ops });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var n = await Department(d, north);
        Assert.Equal(ops, n.GetProperty("parentId").GetInt64());
        Assert.Equal("Ops/North", n.GetProperty("path").GetString());
        var b = await Department(d, beijing);
        Assert.Equal(4, b.GetProperty("depth").GetInt32());
        Assert.Equal("Ops/North/Beijing", b.GetProperty("path").GetString());
        Assert.Equal("Ops/North/Beijing", (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/li@{d}")).GetProperty("department").GetString());

        // The paths in the table are rewritten (what every subtree query of other components relies on).
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM directory_department WHERE path @> ARRAY[@ops]::bigint[]");
        cmd.Parameters.AddWithValue("ops", ops);
        Assert.Equal(3L, (long)(await cmd.ExecuteScalarAsync())!);

        // Filtered by a department, the list holds its subtree's accounts.
        var page = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts?department={ops}");
        Assert.Equal([$"li@{d}"], page.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("address").GetString()));
        Assert.Empty((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts?department={sales}")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task A_department_inserted_by_SQL_behind_the_domain_grain_is_usable_at_once()
    {
        var d = await NewDomain();
        var sales = await NewDepartment(d, "Sales");
        await NewAccount(d, "wu");
        // A seed script adds a department under Sales while the domain's grain is active with its own list.
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand(
            """
            WITH n AS (SELECT nextval('directory_department_id_seq') AS id)
            INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
            SELECT n.id, @d, p.id, 'Seeded', p.depth + 1, p.path || n.id FROM n, directory_department p WHERE p.id = @p
            RETURNING id
            """);
        cmd.Parameters.AddWithValue("d", d);
        cmd.Parameters.AddWithValue("p", sales);
        var seeded = (long)(await cmd.ExecuteScalarAsync())!;

        // Every endpoint that names a department by id knows it without the grain being restarted.
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/wu@{d}", new { departmentId = seeded })).StatusCode);
        Assert.Equal("Sales/Seeded", (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/wu@{d}")).GetProperty("department").GetString());
        var east = await NewDepartment(d, "East", seeded);
        Assert.Equal("Sales/Seeded/East", (await Department(d, east)).GetProperty("path").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/domains/{d}/departments/{seeded}", new { name = "Seeded2" })).StatusCode);
        Assert.Equal("Sales/Seeded2/East", (await Department(d, east)).GetProperty("path").GetString());
        // An id that is no department of the domain is still refused after the re-read.
        await AssertProblem(await Patch($"/api/v1/accounts/wu@{d}", new { departmentId = seeded + 100_000 }), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_move_below_itself_is_refused_as_a_cycle()
    {
        var d = await NewDomain();
        var a = await NewDepartment(d, "A");
        var b = await NewDepartment(d, "B", a);
        var c = await NewDepartment(d, "C", b);
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{a}", new { parentId = c }), HttpStatusCode.BadRequest);
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{a}", new { parentId = a }), HttpStatusCode.BadRequest);
        Assert.Equal("A/B/C", (await Department(d, c)).GetProperty("path").GetString());
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{a}", new { parentId = 999999999 }), HttpStatusCode.BadRequest);
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/999999999", new { name = "x" }), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Departments_are_renamed_and_sibling_names_stay_unique()
    {
        var d = await NewDomain();
        var a = await NewDepartment(d, "Alpha");
        var b = await NewDepartment(d, "Beta");
        var sub = await NewDepartment(d, "Team", a);
        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/departments", Json(new { name = "Alpha" })), HttpStatusCode.Conflict);
        await AssertProblem(await Patch($"/api/v1/domains/{d}/departments/{b}", new { name = "Alpha" }), HttpStatusCode.Conflict);
        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/departments", Json(new { name = "a/b" })), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/departments", Json(new { name = "  " })), HttpStatusCode.BadRequest);
        // The same name under another parent is fine.
        await NewDepartment(d, "Team", b);

        var renamed = await Patch($"/api/v1/domains/{d}/departments/{a}", new { name = "Gamma" });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("Gamma", (await Department(d, a)).GetProperty("name").GetString());
        Assert.Equal("Gamma/Team", (await Department(d, sub)).GetProperty("path").GetString());
        await AssertProblem(await Http.PostAsync("/api/v1/domains/nowhere.test/departments", Json(new { name = "X" })), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Only_an_empty_department_is_deleted()
    {
        var d = await NewDomain();
        var parent = await NewDepartment(d, "Parent");
        var child = await NewDepartment(d, "Child", parent);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{d}/departments/{parent}"), HttpStatusCode.Conflict);
        await NewAccount(d, "kim", new { departmentId = child });
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{d}/departments/{child}"), HttpStatusCode.Conflict);

        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/kim@{d}", new { departmentId = parent })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/domains/{d}/departments/{child}")).StatusCode);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{d}/departments/{child}"), HttpStatusCode.NotFound);
        Assert.Equal(2, (await Departments(d)).Count);
    }

    [Fact]
    public async Task PATCH_changes_the_given_attributes_and_leaves_the_rest()
    {
        var d = await NewDomain();
        var dep = await NewDepartment(d, "Finance");
        await NewAccount(d, "wang", new { displayName = "王伟", title = "Clerk", quotaBytes = 10_000_000 });
        var r = await Patch($"/api/v1/accounts/wang@{d}", new
        {
            title = "Accountant",
            employeeLevel = "P5",
            phone = "+86 10 1234 5678",
            departmentId = dep,
            quotaBytes = 20_000_000,
            maySendExternal = false,
            mayReceiveExternal = false,
            inAddressBook = false,
            mustChangePassword = true,
        });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var a = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/wang@{d}");
        Assert.Equal("王伟", a.GetProperty("displayName").GetString());
        Assert.Equal("Accountant", a.GetProperty("title").GetString());
        Assert.Equal("P5", a.GetProperty("employeeLevel").GetString());
        Assert.Equal("+86 10 1234 5678", a.GetProperty("phone").GetString());
        Assert.Equal(dep, a.GetProperty("departmentId").GetInt64());
        Assert.Equal("Finance", a.GetProperty("department").GetString());
        Assert.Equal(20_000_000, a.GetProperty("quotaBytes").GetInt64());
        Assert.False(a.GetProperty("maySendExternal").GetBoolean());
        Assert.False(a.GetProperty("mayReceiveExternal").GetBoolean());
        Assert.False(a.GetProperty("inAddressBook").GetBoolean());
        Assert.True(a.GetProperty("mustChangePassword").GetBoolean());
        Assert.True(a.GetProperty("enabled").GetBoolean());
        // The quota acts on the mailbox.
        var mailbox = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/wang@{d}/mailbox");
        Assert.Equal(20_000_000, mailbox.GetProperty("quota").GetProperty("limitBytes").GetInt64());

        // An empty string clears a text field; other fields stay.
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/wang@{d}", new { phone = "" })).StatusCode);
        a = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/wang@{d}");
        Assert.Equal(JsonValueKind.Null, a.GetProperty("phone").ValueKind);
        Assert.Equal("Accountant", a.GetProperty("title").GetString());

        await AssertProblem(await Patch($"/api/v1/accounts/wang@{d}", new { departmentId = 999999999 }), HttpStatusCode.BadRequest);
        await AssertProblem(await Patch($"/api/v1/accounts/wang@{d}", new { quotaBytes = 0 }), HttpStatusCode.BadRequest);
        await AssertProblem(await Patch($"/api/v1/accounts/wang@{d}", new { title = new string('x', 201) }), HttpStatusCode.BadRequest);
        await AssertProblem(await Patch($"/api/v1/accounts/nobody@{d}", new { title = "x" }), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_disabled_account_refuses_login_and_mail_until_enabled_again()
    {
        var d = await NewDomain();
        await NewAccount(d, "off");
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/off@{d}", new { enabled = false })).StatusCode);
        Assert.False((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/off@{d}")).GetProperty("enabled").GetBoolean());
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            Assert.StartsWith("250", await c.CommandAsync("EHLO client.example.org"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<x@example.org>"));
            Assert.StartsWith("550 5.2.1", await c.CommandAsync($"RCPT TO:<off@{d}>"));
        }
        Assert.StartsWith("535", await SubmissionAuth($"off@{d}"));
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/off@{d}", new { enabled = true })).StatusCode);
        Assert.StartsWith("235", await SubmissionAuth($"off@{d}"));
    }

    private async Task<string> SubmissionAuth(string user)
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            return await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{SmtpHostFixture.Password}")));
        }
    }

    [Fact]
    public async Task An_account_that_may_not_send_out_gets_550_5_7_1_for_external_recipients_on_submission()
    {
        var d = await NewDomain();
        await NewAccount(d, "inside", new { maySendExternal = false });
        await NewAccount(d, "peer");
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            Assert.StartsWith("235", await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0inside@{d}\0{SmtpHostFixture.Password}"))));
            Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<inside@{d}>"));
            Assert.StartsWith("550 5.7.1", await c.CommandAsync("RCPT TO:<someone@example.org>"));
            // Another hosted domain is outside the account's domain as well.
            Assert.StartsWith("550 5.7.1", await c.CommandAsync($"RCPT TO:<alice@{SmtpHostFixture.Domain}>"));
            Assert.StartsWith("250", await c.CommandAsync($"RCPT TO:<peer@{d}>"));
        }
        // Allowed again, the same recipient is accepted.
        Assert.Equal(HttpStatusCode.OK, (await Patch($"/api/v1/accounts/inside@{d}", new { maySendExternal = true })).StatusCode);
        var (c2, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c2)
        {
            await c2.CommandAsync("EHLO client.example.org");
            Assert.StartsWith("235", await c2.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0inside@{d}\0{SmtpHostFixture.Password}"))));
            Assert.StartsWith("250", await c2.CommandAsync($"MAIL FROM:<inside@{d}>"));
            Assert.StartsWith("250", await c2.CommandAsync($"RCPT TO:<alice@{SmtpHostFixture.Domain}>"));
        }
    }

    [Fact]
    public async Task An_account_that_may_not_receive_from_outside_refuses_MX_mail_from_other_domains()
    {
        var d = await NewDomain();
        await NewAccount(d, "closed", new { mayReceiveExternal = false });
        await NewAccount(d, "open");
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            Assert.StartsWith("250", await c.CommandAsync("EHLO mta.example.org"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<stranger@example.org>"));
            Assert.StartsWith("550 5.7.1", await c.CommandAsync($"RCPT TO:<closed@{d}>"));
            Assert.StartsWith("250", await c.CommandAsync($"RCPT TO:<open@{d}>"));
            Assert.StartsWith("250", await c.CommandAsync("RSET"));
            // The null reverse path is nobody of the domain either.
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<>"));
            Assert.StartsWith("550 5.7.1", await c.CommandAsync($"RCPT TO:<closed@{d}>"));
            Assert.StartsWith("250", await c.CommandAsync("RSET"));
            Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<open@{d}>"));
            Assert.StartsWith("250", await c.CommandAsync($"RCPT TO:<closed@{d}>"));
        }
        // From a colleague over submission, it arrives.
        var (s, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (s)
        {
            await s.CommandAsync("EHLO client.example.org");
            Assert.StartsWith("235", await s.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0open@{d}\0{SmtpHostFixture.Password}"))));
            Assert.StartsWith("250", await s.CommandAsync($"MAIL FROM:<open@{d}>"));
            Assert.StartsWith("250", await s.CommandAsync($"RCPT TO:<closed@{d}>"));
            Assert.StartsWith("354", await s.CommandAsync("DATA"));
            Assert.StartsWith("250", await s.CommandAsync($"From: <open@{d}>\r\nTo: <closed@{d}>\r\nSubject: inside\r\n\r\nhello\r\n."));
        }
        await host.WaitForMessages($"closed@{d}", 1);
    }

    [Fact]
    public async Task Accounts_are_listed_in_pages_and_searched_by_address_or_name_prefix()
    {
        var d = await NewDomain();
        var names = new[] { "amy", "ben", "cai", "dan", "eve", "fay", "gus" };
        foreach (var n in names) await NewAccount(d, n, new { displayName = n == "gus" ? "Zhang Gus" : n.ToUpperInvariant() + " Person" });

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts?limit=3" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
            var items = page.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("address").GetString()!).ToList();
            Assert.InRange(items.Count, 1, 3);
            seen.AddRange(items);
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null);
        Assert.Equal(3, pages);
        Assert.Equal(names.Select(n => $"{n}@{d}"), seen);

        async Task<List<string>> Search(string q) => (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts?q={Uri.EscapeDataString(q)}"))
            .GetProperty("items").EnumerateArray().Select(a => a.GetProperty("address").GetString()!).ToList();
        Assert.Equal([$"dan@{d}"], await Search("da"));
        Assert.Equal([$"gus@{d}"], await Search("zhang"));
        Assert.Equal([$"eve@{d}"], await Search("EVE p"));
        Assert.Empty(await Search("%"));
        // Without parameters the original shape: every account in an array.
        var all = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts");
        Assert.Equal(names.Length, all.GetArrayLength());
        await AssertProblem(await Http.GetAsync($"/api/v1/domains/{d}/accounts?limit=0"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Bulk_actions_change_a_selection()
    {
        var d = await NewDomain();
        var dep = await NewDepartment(d, "Moved");
        foreach (var n in new[] { "b1", "b2", "b3" }) await NewAccount(d, n);
        async Task<JsonElement> Bulk(object body)
        {
            var r = await Http.PostAsync($"/api/v1/domains/{d}/accounts/bulk", Json(body));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return await r.Content.ReadFromJsonAsync<JsonElement>();
        }
        var res = await Bulk(new { addresses = new[] { $"b1@{d}", $"b2@{d}", $"zz@{d}", "x@elsewhere.test" }, action = "disable" });
        Assert.Equal(2, res.GetProperty("changed").GetInt32());
        Assert.Equal([$"x@elsewhere.test", $"zz@{d}"], res.GetProperty("notFound").EnumerateArray().Select(e => e.GetString()).Order());
        Assert.False((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/b1@{d}")).GetProperty("enabled").GetBoolean());
        Assert.StartsWith("535", await SubmissionAuth($"b1@{d}"));
        // Again: nothing left to change.
        Assert.Equal(0, (await Bulk(new { addresses = new[] { $"b1@{d}", $"b2@{d}" }, action = "disable" })).GetProperty("changed").GetInt32());
        await Bulk(new { addresses = new[] { $"b1@{d}" }, action = "enable" });
        Assert.StartsWith("235", await SubmissionAuth($"b1@{d}"));

        await Bulk(new { addresses = new[] { $"b1@{d}", $"b3@{d}" }, action = "move", departmentId = dep });
        Assert.Equal(2, (await Department(d, dep)).GetProperty("accountCount").GetInt32());
        await Bulk(new { addresses = new[] { $"b3@{d}" }, action = "quota", quotaBytes = 12_345_678 });
        Assert.Equal(12_345_678, (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/b3@{d}/mailbox")).GetProperty("quota").GetProperty("limitBytes").GetInt64());
        await Bulk(new { addresses = new[] { $"b2@{d}" }, action = "forcePasswordChange" });
        Assert.True((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/b2@{d}")).GetProperty("mustChangePassword").GetBoolean());

        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/accounts/bulk", Json(new { addresses = new[] { $"b1@{d}" }, action = "explode" })), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.PostAsync($"/api/v1/domains/{d}/accounts/bulk", Json(new { addresses = new[] { $"b1@{d}" }, action = "move", departmentId = 999999999 })), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Accounts_kept_in_grain_state_by_older_versions_move_into_the_directory_table_once()
    {
        var cs = await pg.NewDatabaseAsync("dirmig");
        await using var cluster = await TestSilos.StartAsync(cs);
        const string domain = "legacy.test";
        // Accounts and mailboxes as an older version made them, and the domain's state listing them.
        foreach (var lp in new[] { "old1", "old2" })
        {
            Assert.True(await cluster.Client.GetGrain<IAccountGrain>($"{lp}@{domain}").Create("legacy password", lp.ToUpperInvariant(), 5_000_000));
            await cluster.Client.GetGrain<IMailboxGrain>($"{lp}@{domain}").Provision(5_000_000);
        }
        var storage = cluster.GetSiloServiceProvider(cluster.Silos[0].SiloAddress).GetRequiredKeyedService<IGrainStorage>(GrainStorage.Name);
        var grainId = cluster.Client.GetGrain<IDomainGrain>(domain).GetGrainId();
        var legacy = new GrainState<DomainState>(new DomainState
        {
            Exists = true,
            Settings = DomainSettings.Default("local"),
            Accounts = new(StringComparer.Ordinal) { "old1", "old2" },
            Disabled = new(StringComparer.Ordinal) { "old2" },
            CreatedAt = DateTimeOffset.UtcNow,
        });
        await storage.WriteStateAsync("domain", grainId, legacy);
        // Placing the account grains may have activated the domain (home region): start it afresh on the written state.
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var g = cluster.Client.GetGrain<IDomainGrain>(domain);
        Assert.Equal(2, (await g.GetInfo())!.AccountCount);
        Assert.Equal(RecipientStatus.Accepted, (await g.Resolve("old1", 0)).Status);
        Assert.Equal(RecipientStatus.Disabled, (await g.Resolve("old2", 0)).Status);

        await using var ds = NpgsqlDataSource.Create(cs);
        await using (var cmd = ds.CreateCommand(
            "SELECT a.local_part, a.enabled, a.display_name, a.quota_bytes, d.name, d.depth FROM directory_account a JOIN directory_department d ON d.id = a.department_id WHERE a.domain = @d ORDER BY 1"))
        {
            cmd.Parameters.AddWithValue("d", domain);
            await using var r = await cmd.ExecuteReaderAsync();
            var rows = new List<(string, bool, string, long, string, int)>();
            while (await r.ReadAsync()) rows.Add((r.GetString(0), r.GetBoolean(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetInt32(5)));
            Assert.Equal([("old1", true, "OLD1", 5_000_000L, domain, 1), ("old2", false, "OLD2", 5_000_000L, domain, 1)], rows);
        }
        // The state no longer lists them: the table is the one place.
        var after = new GrainState<DomainState>();
        await storage.ReadStateAsync("domain", grainId, after);
        Assert.Empty(after.State!.Accounts);
        Assert.Empty(after.State.Disabled);

        // A new activation reads the table (one query) and answers the same.
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(2, (await g.GetInfo())!.AccountCount);
        Assert.Equal(RecipientStatus.Disabled, (await g.Resolve("old2", 0)).Status);
        Assert.Equal(AuthOutcome.Success, (await cluster.Client.GetGrain<IAccountGrain>($"old1@{domain}").Authenticate(new LoginAttempt("legacy password", LoginChannel.Imap, "127.0.0.1"))).Outcome);
    }
}
