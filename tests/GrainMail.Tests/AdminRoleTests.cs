using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// Delegated administration end to end: each role against each kind of resource, inside and
/// outside its scope, reading and writing, over real HTTP with the role holders' own session
/// tokens; and who may grant which role.
/// </summary>
public sealed class AdminRoleTests(AdminAccessFixture fixture) : IClassFixture<AdminAccessFixture>
{
    /// <summary>
    /// Domain A with departments Sales (with East below it) and Eng; domain B. Role holders of A:
    /// a domain admin, a department admin of Sales, a domain-wide auditor and an auditor of Sales.
    /// </summary>
    private sealed record Org(string A, string B, string East1, string Eng1, string B1, long Sales, long East, long Eng, Dictionary<string, string> Tokens);

    private async Task<Org> BuildOrg()
    {
        var a = await fixture.NewDomain("a");
        var b = await fixture.NewDomain("b");
        var dir = fixture.Directory;
        var sales = await dir.DepartmentAsync(a, "Sales");
        var east = await dir.DepartmentAsync(a, "Sales", "East");
        var eng = await dir.DepartmentAsync(a, "Eng");
        var root = await dir.DepartmentAsync(a);
        var east1 = await fixture.NewAccount(a, "east1", east);
        var eng1 = await fixture.NewAccount(a, "eng1", eng);
        var b1 = await fixture.NewAccount(b, "b1", await dir.DepartmentAsync(b));
        var tokens = new Dictionary<string, string>();
        foreach (var (who, role, dep) in new (string, string, long?)[]
        {
            ("domain-admin", "domain-admin", null),
            ("department-admin", "department-admin", sales),
            ("auditor", "auditor", null),
            ("department-auditor", "auditor", sales),
        })
        {
            var account = await fixture.NewAccount(a, who, root);
            await fixture.Grant(account, role, a, dep);
            tokens[who] = await fixture.Token(account);
        }
        return new Org(a, b, east1, eng1, b1, sales, east, eng, tokens);
    }

    private sealed record Case(string Resource, string Method, string Path, object? Body, int DomainAdmin, int DepartmentAdmin, int Auditor, int DepartmentAuditor);

    [Fact]
    public async Task Every_role_meets_every_resource_inside_and_outside_its_scope()
    {
        var o = await BuildOrg();
        var n = 0;
        object Alias() => new { alias = $"al{++n}", targets = new[] { o.East1 } };
        var quota = new { quotaBytes = 5L * 1024 * 1024 * 1024 };
        Case[] cases =
        [
            // Node-wide: the super admin's alone.
            new("node read", "GET", "/api/v1/outbound", null, 403, 403, 403, 403),
            new("node read", "GET", "/api/v1/dead-letters", null, 403, 403, 403, 403),
            new("node read", "GET", "/api/v1/outbound/links", null, 403, 403, 403, 403),
            new("node write", "POST", "/api/v1/domains", new { name = "new-one.test" }, 403, 403, 403, 403),
            new("node write", "DELETE", $"/api/v1/domains/{o.A}", null, 403, 403, 403, 403),
            // The audit chain: verified and anchored by auditors (of any scope), not by admins.
            new("audit chain", "GET", "/api/v1/audit/verify", null, 403, 403, 200, 200),
            new("audit chain", "POST", "/api/v1/audit/anchor", null, 403, 403, 200, 200),
            // The whole domain: domain-wide roles only.
            new("domain read, in", "GET", $"/api/v1/domains/{o.A}/aliases", null, 200, 403, 200, 403),
            new("domain read, in", "GET", $"/api/v1/domains/{o.A}/dns", null, 200, 403, 200, 403),
            new("domain read, in", "GET", $"/api/v1/domains/{o.A}/accounts", null, 200, 403, 200, 403),
            new("domain read, out", "GET", $"/api/v1/domains/{o.B}/aliases", null, 403, 403, 403, 403),
            new("domain read, out", "GET", $"/api/v1/domains/{o.B}/accounts", null, 403, 403, 403, 403),
            new("domain write, in", "POST", $"/api/v1/domains/{o.A}/aliases", null, 201, 403, 403, 403),
            new("domain write, in", "POST", $"/api/v1/domains/{o.A}/dkim/rotate", null, 200, 403, 403, 403),
            new("domain write, out", "POST", $"/api/v1/domains/{o.B}/aliases", null, 403, 403, 403, 403),
            // The domain's shared view: every role inside it reads.
            new("domain overview read, in", "GET", $"/api/v1/domains/{o.A}", null, 200, 200, 200, 200),
            new("domain overview read, out", "GET", $"/api/v1/domains/{o.B}", null, 403, 403, 403, 403),
            // Accounts: by the department they sit in.
            new("account read, in subtree", "GET", $"/api/v1/accounts/{o.East1}", null, 200, 200, 200, 200),
            new("account read, in subtree", "GET", $"/api/v1/accounts/{o.East1}/mailbox", null, 200, 200, 200, 200),
            new("account log read, in subtree", "GET", $"/api/v1/accounts/{o.East1}/sent-log", null, 200, 200, 200, 200),
            new("account read, other department", "GET", $"/api/v1/accounts/{o.Eng1}", null, 200, 403, 200, 403),
            new("account read, other domain", "GET", $"/api/v1/accounts/{o.B1}", null, 403, 403, 403, 403),
            new("account log read, other domain", "GET", $"/api/v1/accounts/{o.B1}/sent-log", null, 403, 403, 403, 403),
            new("account write, in subtree", "PUT", $"/api/v1/accounts/{o.East1}/quota", quota, 204, 204, 403, 403),
            new("account write, in subtree", "PUT", $"/api/v1/accounts/{o.East1}/enabled", new { enabled = true }, 204, 204, 403, 403),
            new("account write, other department", "PUT", $"/api/v1/accounts/{o.Eng1}/quota", quota, 204, 403, 403, 403),
            new("account write, other domain", "PUT", $"/api/v1/accounts/{o.B1}/quota", quota, 403, 403, 403, 403),
            new("account write, other domain", "DELETE", $"/api/v1/accounts/{o.B1}", null, 403, 403, 403, 403),
            // Account security (issue 16): the policy is the domain's, weak passwords are listed per scope.
            new("security policy read, in", "GET", $"/api/v1/domains/{o.A}/security-policy", null, 200, 200, 200, 200),
            new("security policy write, in", "PATCH", $"/api/v1/domains/{o.A}/security-policy", new { passwordHistory = 1 }, 200, 403, 403, 403),
            new("security policy write, out", "PATCH", $"/api/v1/domains/{o.B}/security-policy", new { passwordHistory = 1 }, 403, 403, 403, 403),
            new("weak passwords read, in", "GET", $"/api/v1/domains/{o.A}/weak-passwords", null, 200, 200, 200, 200),
            new("two-factor read, in subtree", "GET", $"/api/v1/accounts/{o.East1}/two-factor", null, 200, 200, 200, 200),
            new("two-factor read, other department", "GET", $"/api/v1/accounts/{o.Eng1}/two-factor", null, 200, 403, 200, 403),
            new("two-factor off, in subtree (it is off: 409)", "DELETE", $"/api/v1/accounts/{o.East1}/two-factor", null, 409, 409, 403, 403),
            // Login security (issue 16): histories by scope, unlock and IP rules as writes.
            new("account login log read, in subtree", "GET", $"/api/v1/accounts/{o.East1}/logins", null, 200, 200, 200, 200),
            new("account login log read, other department", "GET", $"/api/v1/accounts/{o.Eng1}/logins", null, 200, 403, 200, 403),
            new("account login log read, other domain", "GET", $"/api/v1/accounts/{o.B1}/logins", null, 403, 403, 403, 403),
            new("account sessions read, in subtree", "GET", $"/api/v1/accounts/{o.East1}/sessions", null, 200, 200, 200, 200),
            new("account unlock, in subtree", "POST", $"/api/v1/accounts/{o.East1}/unlock", null, 200, 200, 403, 403),
            new("account unlock, other department", "POST", $"/api/v1/accounts/{o.Eng1}/unlock", null, 200, 403, 403, 403),
            new("domain logins read, in", "GET", $"/api/v1/domains/{o.A}/logins", null, 200, 403, 200, 403),
            new("domain logins read, out", "GET", $"/api/v1/domains/{o.B}/logins", null, 403, 403, 403, 403),
            new("department logins read, in subtree", "GET", $"/api/v1/domains/{o.A}/departments/{o.East}/logins", null, 200, 200, 200, 200),
            new("department logins read, other department", "GET", $"/api/v1/domains/{o.A}/departments/{o.Eng}/logins", null, 200, 403, 200, 403),
            new("domain IP rules read, in", "GET", $"/api/v1/domains/{o.A}/login-ip-rules", null, 200, 403, 200, 403),
            new("domain IP rules write, in", "POST", $"/api/v1/domains/{o.A}/login-ip-rules", new { network = "198.51.100.0/24" }, 201, 403, 403, 403),
            new("domain IP rules write, out", "POST", $"/api/v1/domains/{o.B}/login-ip-rules", new { network = "198.51.100.0/24" }, 403, 403, 403, 403),
        ];

        var wrong = new List<string>();
        foreach (var c in cases)
        {
            foreach (var (who, expected) in new[] { ("domain-admin", c.DomainAdmin), ("department-admin", c.DepartmentAdmin), ("auditor", c.Auditor), ("department-auditor", c.DepartmentAuditor) })
            {
                using var client = fixture.Client(o.Tokens[who]);
                var body = c.Body ?? (c.Method == "POST" && c.Path.EndsWith("/aliases", StringComparison.Ordinal) ? Alias() : null);
                using var req = new HttpRequestMessage(new HttpMethod(c.Method), c.Path) { Content = body is null ? null : AdminAccessFixture.Json(body) };
                using var r = await client.SendAsync(req);
                if ((int)r.StatusCode != expected) wrong.Add($"{who} {c.Method} {c.Path} ({c.Resource}): expected {expected}, got {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
                else if (expected == 403) await AdminAccessFixture.AssertProblem(r, HttpStatusCode.Forbidden);
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        // The node itself still answers the bootstrap token.
        Assert.Equal(HttpStatusCode.OK, (await fixture.Super.GetAsync("/api/v1/outbound")).StatusCode);
    }

    [Fact]
    public async Task The_domain_list_holds_only_the_domains_in_scope()
    {
        var o = await BuildOrg();
        foreach (var token in o.Tokens.Values)
        {
            using var client = fixture.Client(token);
            var names = (await client.GetFromJsonAsync<JsonElement>("/api/v1/domains")).EnumerateArray().Select(d => d.GetProperty("name").GetString()).ToList();
            Assert.Equal([o.A], names);
        }
        var all = (await fixture.Super.GetFromJsonAsync<JsonElement>("/api/v1/domains")).EnumerateArray().Select(d => d.GetProperty("name").GetString()).ToList();
        Assert.Contains(o.A, all);
        Assert.Contains(o.B, all);
    }

    [Fact]
    public async Task A_refusal_says_why_in_a_problem_document()
    {
        var o = await BuildOrg();
        using var auditor = fixture.Client(o.Tokens["auditor"]);
        var p = await AdminAccessFixture.AssertProblem(await auditor.PutAsync($"/api/v1/accounts/{o.East1}/quota", AdminAccessFixture.Json(new { quotaBytes = 1000000 })), HttpStatusCode.Forbidden);
        Assert.Contains("only reads", p.GetProperty("detail").GetString());
        using var deptAdmin = fixture.Client(o.Tokens["department-admin"]);
        p = await AdminAccessFixture.AssertProblem(await deptAdmin.GetAsync($"/api/v1/accounts/{o.Eng1}"), HttpStatusCode.Forbidden);
        Assert.Contains("outside your scope", p.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_domain_admin_grants_department_roles_in_its_domain_and_nothing_more()
    {
        var o = await BuildOrg();
        using var da = fixture.Client(o.Tokens["domain-admin"]);
        var newcomer = await fixture.NewAccount(o.A, "newcomer", o.East);
        var r = await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "department-admin", domain = o.A, departmentId = o.East }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var id = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.Created, (await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "auditor", domain = o.A }))).StatusCode);
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "auditor", domain = o.A })), HttpStatusCode.Conflict);

        // Not a domain admin, not another domain, not an account of another domain.
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "domain-admin", domain = o.A })), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = o.B1, role = "auditor", domain = o.B })), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = o.B1, role = "auditor", domain = o.A })), HttpStatusCode.Forbidden);
        // A department of another domain is no department of this one.
        var bDept = await fixture.Directory.DepartmentAsync(o.B, "Ops");
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "department-admin", domain = o.A, departmentId = bDept })), HttpStatusCode.NotFound);
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "department-admin", domain = o.A })), HttpStatusCode.BadRequest);
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "owner", domain = o.A })), HttpStatusCode.BadRequest);

        // Department admins and auditors grant nothing.
        foreach (var who in new[] { "department-admin", "auditor", "department-auditor" })
        {
            using var c = fixture.Client(o.Tokens[who]);
            await AdminAccessFixture.AssertProblem(await c.PostAsync("/api/v1/roles", AdminAccessFixture.Json(new { account = newcomer, role = "auditor", domain = o.A, departmentId = o.East })), HttpStatusCode.Forbidden);
            await AdminAccessFixture.AssertProblem(await c.DeleteAsync($"/api/v1/roles/{id}"), HttpStatusCode.Forbidden);
        }

        // The grant is visible inside the scope it lies in, and not outside it.
        using var deptAdmin = fixture.Client(o.Tokens["department-admin"]);
        Assert.Contains((await deptAdmin.GetFromJsonAsync<JsonElement>($"/api/v1/roles?domain={o.A}")).EnumerateArray(), g => g.GetProperty("id").GetInt64() == id);
        var engAdmin = await fixture.NewAccount(o.A, "engadmin", o.Eng);
        await fixture.Grant(engAdmin, "department-admin", o.A, o.Eng);
        using var eng = fixture.Client(await fixture.Token(engAdmin));
        Assert.DoesNotContain((await eng.GetFromJsonAsync<JsonElement>("/api/v1/roles")).EnumerateArray(), g => g.GetProperty("id").GetInt64() == id);
        await AdminAccessFixture.AssertProblem(await eng.GetAsync($"/api/v1/roles/{id}"), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, (await da.DeleteAsync($"/api/v1/roles/{id}")).StatusCode);
        await AdminAccessFixture.AssertProblem(await da.DeleteAsync($"/api/v1/roles/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Integrations_are_registered_by_the_super_admin_or_a_domain_admin_of_their_domain()
    {
        var o = await BuildOrg();
        var key = IntegrationSigner.NewKey("ed25519");
        object Body(string domain) => new { name = "HR system", domain, publicKey = key.PublicPem, allowedSources = new[] { "127.0.0.1" } };
        using var da = fixture.Client(o.Tokens["domain-admin"]);
        var r = await da.PostAsync("/api/v1/integrations", AdminAccessFixture.Json(Body(o.A)));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var id = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        await AdminAccessFixture.AssertProblem(await da.PostAsync("/api/v1/integrations", AdminAccessFixture.Json(Body(o.B))), HttpStatusCode.Forbidden);
        foreach (var who in new[] { "department-admin", "auditor", "department-auditor" })
        {
            using var c = fixture.Client(o.Tokens[who]);
            await AdminAccessFixture.AssertProblem(await c.PostAsync("/api/v1/integrations", AdminAccessFixture.Json(Body(o.A))), HttpStatusCode.Forbidden);
        }
        // The domain-wide auditor reads it; the department roles do not see it.
        using var auditor = fixture.Client(o.Tokens["auditor"]);
        Assert.Equal(HttpStatusCode.OK, (await auditor.GetAsync($"/api/v1/integrations/{id}")).StatusCode);
        await AdminAccessFixture.AssertProblem(await auditor.DeleteAsync($"/api/v1/integrations/{id}"), HttpStatusCode.Forbidden);
        using var deptAdmin = fixture.Client(o.Tokens["department-admin"]);
        Assert.Empty((await deptAdmin.GetFromJsonAsync<JsonElement>("/api/v1/integrations")).EnumerateArray());
        Assert.Equal(HttpStatusCode.NoContent, (await da.DeleteAsync($"/api/v1/integrations/{id}")).StatusCode);
    }

    /// <summary>
    /// Departments made through the API (so the domain grain, their one writer, knows them):
    /// Sales with East below it, and Eng, under the root of a fresh domain; a department admin
    /// and a department auditor of Sales, a domain admin and a domain-wide auditor.
    /// </summary>
    private async Task<(string Domain, Dictionary<string, long> Ids, Dictionary<string, string> Tokens)> BuildEditableTree()
    {
        var a = await fixture.NewDomain("t");
        var ids = new Dictionary<string, long>();
        async Task<long> Make(string name, long? parentId)
        {
            var r = await fixture.Super.PostAsync($"/api/v1/domains/{a}/departments", AdminAccessFixture.Json(new { name, parentId }));
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            return ids[name] = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        }
        var sales = await Make("Sales", null);
        await Make("East", sales);
        await Make("Eng", null);
        var tokens = new Dictionary<string, string>();
        foreach (var (who, role, dep) in new (string, string, long?)[]
        {
            ("domain-admin", "domain-admin", null),
            ("department-admin", "department-admin", sales),
            ("auditor", "auditor", null),
            ("department-auditor", "auditor", sales),
        })
        {
            var account = await fixture.NewAccount(a, who);
            await fixture.Grant(account, role, a, dep);
            tokens[who] = await fixture.Token(account);
        }
        return (a, ids, tokens);
    }

    [Fact]
    public async Task A_department_admin_creates_renames_moves_and_deletes_departments_inside_its_subtree_only()
    {
        var (a, ids, tokens) = await BuildEditableTree();
        var b = await fixture.NewDomain("u");
        var bTop = (await (await fixture.Super.PostAsync($"/api/v1/domains/{b}/departments", AdminAccessFixture.Json(new { name = "Other" })))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        using var admin = fixture.Client(tokens["department-admin"]);
        var wrong = new List<string>();
        async Task<HttpResponseMessage> Send(HttpClient c, string method, string path, object? body, int expected, string what)
        {
            using var req = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : AdminAccessFixture.Json(body) };
            var r = await c.SendAsync(req);
            if ((int)r.StatusCode != expected) wrong.Add($"{what}: {method} {path} expected {expected}, got {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            else if (expected == 403) await AdminAccessFixture.AssertProblem(r, HttpStatusCode.Forbidden);
            return r;
        }
        var deps = $"/api/v1/domains/{a}/departments";

        // Create: under any department of the subtree; not at the top level, not elsewhere.
        var north = await Send(admin, "POST", deps, new { name = "North", parentId = ids["Sales"] }, 201, "create below the scope's department");
        var northId = (await north.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var far = await Send(admin, "POST", deps, new { name = "Far", parentId = ids["East"] }, 201, "create deeper in the subtree");
        var farId = (await far.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await Send(admin, "POST", deps, new { name = "Top" }, 403, "create at the domain's top level");
        await Send(admin, "POST", deps, new { name = "Spy", parentId = ids["Eng"] }, 403, "create in another department");
        await Send(admin, "POST", $"/api/v1/domains/{b}/departments", new { name = "Spy", parentId = bTop }, 403, "create in another domain");
        await Send(admin, "POST", deps, new { name = "Spy", parentId = bTop }, 403, "another domain's department named under this one");

        // Rename: the scope's own department and everything below it.
        await Send(admin, "PATCH", $"{deps}/{ids["East"]}", new { name = "East Coast" }, 200, "rename inside");
        await Send(admin, "PATCH", $"{deps}/{ids["Sales"]}", new { name = "Sales and Marketing" }, 200, "rename the scope's department");
        await Send(admin, "PATCH", $"{deps}/{ids["Eng"]}", new { name = "Mine now" }, 403, "rename outside");
        // Move: from inside to inside only; the scope's own department stays where it was granted.
        await Send(admin, "PATCH", $"{deps}/{northId}", new { parentId = ids["East"] }, 200, "move inside the subtree");
        await Send(admin, "PATCH", $"{deps}/{northId}", new { parentId = ids["Eng"] }, 403, "move out of the subtree");
        await Send(admin, "PATCH", $"{deps}/{ids["Eng"]}", new { parentId = ids["Sales"] }, 403, "move a department in from outside");
        await Send(admin, "PATCH", $"{deps}/{ids["Sales"]}", new { parentId = ids["Eng"] }, 403, "move the scope's own department");
        // Delete: below the scope's department only.
        await Send(admin, "DELETE", $"{deps}/{farId}", null, 204, "delete inside");
        await Send(admin, "DELETE", $"{deps}/{ids["Eng"]}", null, 403, "delete outside");
        await Send(admin, "DELETE", $"{deps}/{ids["Sales"]}", null, 403, "delete the scope's own department");

        // Auditors only read, in or out; the domain admin does all of it.
        foreach (var who in new[] { "auditor", "department-auditor" })
        {
            using var c = fixture.Client(tokens[who]);
            await Send(c, "POST", deps, new { name = "Audit", parentId = ids["Sales"] }, 403, $"{who} create");
            await Send(c, "PATCH", $"{deps}/{ids["East"]}", new { name = "Audited" }, 403, $"{who} rename");
            await Send(c, "DELETE", $"{deps}/{northId}", null, 403, $"{who} delete");
            await Send(c, "GET", deps, null, 200, $"{who} reads the tree");
        }
        using var domainAdmin = fixture.Client(tokens["domain-admin"]);
        await Send(domainAdmin, "POST", deps, new { name = "Top" }, 201, "domain admin creates at the top");
        await Send(domainAdmin, "PATCH", $"{deps}/{ids["Eng"]}", new { parentId = ids["Sales"] }, 200, "domain admin moves anywhere");
        await Send(domainAdmin, "POST", $"/api/v1/domains/{b}/departments", new { name = "Spy" }, 403, "domain admin of another domain");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));

        // What the department admin did is what the tree shows, under the same ids.
        var tree = (await fixture.Super.GetFromJsonAsync<JsonElement>(deps)).EnumerateArray().ToDictionary(d => d.GetProperty("id").GetInt64());
        Assert.Equal("Sales and Marketing", tree[ids["Sales"]].GetProperty("name").GetString());
        Assert.Equal("East Coast", tree[ids["East"]].GetProperty("name").GetString());
        Assert.Equal(ids["East"], tree[northId].GetProperty("parentId").GetInt64());
        Assert.False(tree.ContainsKey(farId));
        // Eng, moved by the domain admin into Sales, is now inside the department admin's subtree.
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsync($"{deps}/{ids["Eng"]}", AdminAccessFixture.Json(new { name = "Engineering" }))).StatusCode);
    }
}
