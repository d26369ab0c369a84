using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>POST /api/v1/sessions: role holders log in with their own password; sessions expire, end at logout, and die with the role or the account.</summary>
public sealed class AdminSessionTests(AdminAccessFixture fixture) : IClassFixture<AdminAccessFixture>
{
    private async Task<(string Domain, string Admin, long RoleId)> DomainWithAdmin()
    {
        var d = await fixture.NewDomain("s");
        var admin = await fixture.NewAccount(d, "boss");
        var role = await fixture.Grant(admin, "domain-admin", d);
        return (d, admin, role);
    }

    [Fact]
    public async Task A_role_holder_logs_in_and_acts_within_its_role()
    {
        var (d, admin, _) = await DomainWithAdmin();
        var r = await fixture.Login(admin);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var body = await r.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("token").GetString()!;
        Assert.StartsWith("gms_", token);
        // Documented limits: 12 hours absolute, 30 minutes idle.
        var expires = body.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromHours(11.9), TimeSpan.FromHours(12.1));
        Assert.Equal(1800, body.GetProperty("idleTimeoutSeconds").GetInt32());
        Assert.Equal("domain-admin", body.GetProperty("roles")[0].GetProperty("role").GetString());

        using var client = fixture.Client(token);
        var me = await client.GetFromJsonAsync<JsonElement>("/api/v1/sessions/current");
        Assert.Equal(admin, me.GetProperty("account").GetString());
        Assert.Equal("admin", me.GetProperty("kind").GetString());
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/api/v1/domains/{d}/accounts", AdminAccessFixture.Json(new { localPart = "staff", password = "long enough pw" }))).StatusCode);

        // The token is stored as its SHA-256 only.
        Assert.Equal(1, await fixture.Sql("UPDATE admin_session SET account = account WHERE token_hash = sha256(convert_to(@t, 'UTF8'))", ("t", token)));
    }

    [Fact]
    public async Task Wrong_passwords_are_refused_and_count_towards_the_lockout()
    {
        var (_, admin, _) = await DomainWithAdmin();
        var p = await AdminAccessFixture.AssertProblem(await fixture.Login(admin, "not the password"), HttpStatusCode.Unauthorized);
        Assert.Equal("Wrong address or password", p.GetProperty("title").GetString());
        await AdminAccessFixture.AssertProblem(await fixture.Login("nobody@" + admin.Split('@')[1], "whatever pw"), HttpStatusCode.Unauthorized);
        await AdminAccessFixture.AssertProblem(await fixture.Login("not an address", "whatever pw"), HttpStatusCode.BadRequest);

        // Ten failures within the window lock the account (LockoutOptions): the tenth answers 429, as does the right password after it.
        HttpResponseMessage last = null!;
        for (var i = 0; i < 9; i++) last = await fixture.Login(admin, $"wrong {i}");
        Assert.Equal(HttpStatusCode.TooManyRequests, last.StatusCode);
        await AdminAccessFixture.AssertProblem(await fixture.Login(admin), HttpStatusCode.TooManyRequests);
        Assert.NotNull((await fixture.Login(admin)).Headers.RetryAfter);
    }

    [Fact]
    public async Task An_account_without_a_role_or_with_an_app_password_gets_no_session()
    {
        var d = await fixture.NewDomain("s");
        var plain = await fixture.NewAccount(d, "plain");
        var p = await AdminAccessFixture.AssertProblem(await fixture.Login(plain), HttpStatusCode.Forbidden);
        Assert.Equal("No admin role", p.GetProperty("title").GetString());

        await fixture.Grant(plain, "auditor", d);
        var app = await fixture.Super.PostAsync($"/api/v1/accounts/{plain}/app-passwords", AdminAccessFixture.Json(new { name = "phone" }));
        var appPassword = (await app.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;
        await AdminAccessFixture.AssertProblem(await fixture.Login(plain, appPassword), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.Created, (await fixture.Login(plain)).StatusCode);
    }

    [Fact]
    public async Task Sessions_end_when_idle_too_long_and_at_their_absolute_limit()
    {
        var (d, admin, _) = await DomainWithAdmin();
        using var idle = fixture.Client(await fixture.Token(admin));
        using var old = fixture.Client(await fixture.Token(admin));
        Assert.Equal(HttpStatusCode.OK, (await idle.GetAsync($"/api/v1/domains/{d}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync($"/api/v1/domains/{d}")).StatusCode);

        // Time passes for the database's clock: one session unused for 31 minutes (idle limit 30),
        // and the other past its absolute end although used a second ago.
        var sessions = await fixture.Sql("UPDATE admin_session SET last_used_at = now() - interval '31 minutes' WHERE account = @a AND token_hash = (SELECT token_hash FROM admin_session WHERE account = @a ORDER BY created_at LIMIT 1)", ("a", admin));
        Assert.Equal(1, sessions);
        var first = await idle.GetAsync($"/api/v1/domains/{d}");
        var second = await old.GetAsync($"/api/v1/domains/{d}");
        // Which client held the first row is the order of login: the idle one.
        var p = await AdminAccessFixture.AssertProblem(first, HttpStatusCode.Unauthorized);
        Assert.Equal("Session ended", p.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        Assert.Equal(1, await fixture.Sql("UPDATE admin_session SET expires_at = now() - interval '1 second', last_used_at = now() WHERE account = @a AND last_used_at > now() - interval '1 minute'", ("a", admin)));
        await AdminAccessFixture.AssertProblem(await old.GetAsync($"/api/v1/domains/{d}"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_ends_the_session_and_the_bootstrap_token_stays()
    {
        var (d, admin, _) = await DomainWithAdmin();
        using var client = fixture.Client(await fixture.Token(admin));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/v1/sessions/current")).StatusCode);
        await AdminAccessFixture.AssertProblem(await client.GetAsync($"/api/v1/domains/{d}"), HttpStatusCode.Unauthorized);
        await AdminAccessFixture.AssertProblem(await fixture.Super.DeleteAsync("/api/v1/sessions/current"), HttpStatusCode.BadRequest);
        Assert.Equal("super", (await fixture.Super.GetFromJsonAsync<JsonElement>("/api/v1/sessions/current")).GetProperty("kind").GetString());
        // A made-up session token is refused like an ended one.
        using var forged = fixture.Client("gms_" + new string('A', 43));
        await AdminAccessFixture.AssertProblem(await forged.GetAsync($"/api/v1/domains/{d}"), HttpStatusCode.Unauthorized);
        // Session tokens do not open the operators' dashboard.
        using var again = fixture.Client(await fixture.Token(admin));
        Assert.NotEqual(HttpStatusCode.OK, (await again.GetAsync("/dashboard")).StatusCode);
    }

    [Fact]
    public async Task Removing_the_role_or_disabling_the_account_ends_its_sessions_at_once()
    {
        var (d, admin, roleId) = await DomainWithAdmin();
        using var client = fixture.Client(await fixture.Token(admin));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/domains/{d}/accounts")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.DeleteAsync($"/api/v1/roles/{roleId}")).StatusCode);
        await AdminAccessFixture.AssertProblem(await client.GetAsync($"/api/v1/domains/{d}/accounts"), HttpStatusCode.Unauthorized);

        // Two roles, one removed: the session narrows to the other at the next request.
        var auditorRole = await fixture.Grant(admin, "auditor", d);
        var adminRole = await fixture.Grant(admin, "domain-admin", d);
        using var narrowed = fixture.Client(await fixture.Token(admin));
        var create = () => narrowed.PostAsync($"/api/v1/domains/{d}/aliases", AdminAccessFixture.Json(new { alias = $"x{Guid.NewGuid():N}"[..10], targets = new[] { admin } }));
        Assert.Equal(HttpStatusCode.Created, (await create()).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.DeleteAsync($"/api/v1/roles/{adminRole}")).StatusCode);
        await AdminAccessFixture.AssertProblem(await create(), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await narrowed.GetAsync($"/api/v1/domains/{d}/aliases")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.PutAsync($"/api/v1/accounts/{admin}/enabled", AdminAccessFixture.Json(new { enabled = false }))).StatusCode);
        await AdminAccessFixture.AssertProblem(await narrowed.GetAsync($"/api/v1/domains/{d}/aliases"), HttpStatusCode.Unauthorized);
        await AdminAccessFixture.AssertProblem(await fixture.Login(admin), HttpStatusCode.Forbidden);
        Assert.True(auditorRole > 0);
    }

    [Fact]
    public async Task A_role_does_not_pass_to_a_new_account_under_the_same_address()
    {
        var (d, admin, _) = await DomainWithAdmin();
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.DeleteAsync($"/api/v1/accounts/{admin}")).StatusCode);
        await fixture.NewAccount(d, "boss");
        await AdminAccessFixture.AssertProblem(await fixture.Login(admin), HttpStatusCode.Forbidden);
        // Granted again, it is a new grant for the new account.
        await fixture.Grant(admin, "domain-admin", d);
        Assert.Equal(HttpStatusCode.Created, (await fixture.Login(admin)).StatusCode);
    }

    [Fact]
    public async Task The_grainmail_script_logs_in_grants_roles_and_registers_integrations()
    {
        var d = await fixture.NewDomain("c");
        var boss = await fixture.NewAccount(d, "chief");
        var clerk = await fixture.NewAccount(d, "clerk");
        var granted = await fixture.Cli(null, "role", "add", boss, "domain-admin", d);
        Assert.True(granted.ExitCode == 0, granted.Out + granted.Err);
        var login = await fixture.Cli(null, "login", boss, AdminAccessFixture.Password);
        Assert.True(login.ExitCode == 0, login.Out + login.Err);
        var token = login.Json.GetProperty("token").GetString()!;
        Assert.Equal(boss, (await fixture.Cli(token, "whoami")).Json.GetProperty("account").GetString());

        // As the domain admin: a department role for the clerk, then an integration of the domain.
        var root = await fixture.Directory.DepartmentAsync(d);
        var role = await fixture.Cli(token, "role", "add", clerk, "auditor", d, root.ToString());
        Assert.True(role.ExitCode == 0, role.Out + role.Err);
        var roleId = role.Json.GetProperty("id").GetInt64().ToString();
        Assert.Contains((await fixture.Cli(token, "role", "list", d)).Json.EnumerateArray(), r => r.GetProperty("account").GetString() == clerk);
        var refused = await fixture.Cli(token, "role", "add", clerk, "domain-admin", d);
        Assert.Equal(403, refused.Json.GetProperty("status").GetInt32());

        var keyFile = Path.GetTempFileName();
        File.WriteAllText(keyFile, IntegrationSigner.NewKey("ed25519").PublicPem);
        var integration = await fixture.Cli(token, "integration", "add", "HR", d, keyFile, "127.0.0.1", "2001:db8::/32");
        File.Delete(keyFile);
        Assert.True(integration.ExitCode == 0, integration.Out + integration.Err);
        var id = integration.Json.GetProperty("id").GetString()!;
        Assert.Equal(["127.0.0.1/32", "2001:db8::/32"], integration.Json.GetProperty("allowedSources").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("HR", (await fixture.Cli(token, "integration", "show", id)).Json.GetProperty("name").GetString());
        Assert.Single((await fixture.Cli(token, "integration", "list", d)).Json.EnumerateArray());
        Assert.Equal(0, (await fixture.Cli(token, "integration", "del", id)).ExitCode);
        Assert.Equal(0, (await fixture.Cli(token, "role", "del", roleId)).ExitCode);

        Assert.Equal(0, (await fixture.Cli(token, "logout")).ExitCode);
        Assert.Equal(401, (await fixture.Cli(token, "whoami")).Json.GetProperty("status").GetInt32());
    }
}
