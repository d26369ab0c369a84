using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The signed integration API: keys registered (Ed25519 and RSA-2048, RSA-1024 refused), requests
/// signed by an independent implementation (Python's cryptography), and every refusal: expired,
/// replayed, wrong key, tampered body, unregistered source address; unread counts and single sign-on.
/// </summary>
public sealed class IntegrationApiTests(AdminAccessFixture fixture) : IClassFixture<AdminAccessFixture>
{
    private HttpClient Anon() => fixture.Client();

    private async Task<Guid> Register(string domain, IntegrationKey key, params string[] sources)
    {
        var r = await fixture.Super.PostAsync("/api/v1/integrations", AdminAccessFixture.Json(new { name = "OA system", domain, publicKey = key.PublicPem, allowedSources = sources }));
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return Guid.Parse((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
    }

    private async Task Deliver(string to, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var raw = Convert.ToBase64String(Encoding.ASCII.GetBytes($"From: a@example.net\r\nTo: {to}\r\nSubject: n{i}\r\n\r\nhello\r\n"));
            Assert.Equal(HttpStatusCode.Accepted, (await fixture.Super.PostAsync("/api/v1/messages", AdminAccessFixture.Json(new { from = "a@example.net", to = new[] { to }, raw }))).StatusCode);
        }
    }

    private async Task<int> Unread(Guid id, IntegrationKey key, string address)
    {
        using var anon = Anon();
        var r = await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, $"/api/v1/integration/accounts/{address}/unread"));
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("unread").GetInt32();
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa2048")]
    public async Task A_signed_request_reads_the_unread_count(string kind)
    {
        var d = await fixture.NewDomain("i");
        var user = await fixture.NewAccount(d, "reader");
        var key = IntegrationSigner.NewKey(kind);
        var id = await Register(d, key, "127.0.0.1", "::1");
        Assert.Equal(0, await Unread(id, key, user));
        await Deliver(user, 3);
        await Eventually.Until(async () => await Unread(id, key, user) == 3, TimeSpan.FromSeconds(30), "three unread messages");

        // Another domain's account is not the integration's to read; nor is an unknown one found.
        var other = await fixture.NewAccount(await fixture.NewDomain("o"), "someone");
        using var anon = Anon();
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, $"/api/v1/integration/accounts/{other}/unread")), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, $"/api/v1/integration/accounts/nobody@{d}/unread")), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Weak_or_malformed_keys_are_refused_at_registration()
    {
        var d = await fixture.NewDomain("k");
        var weak = IntegrationSigner.NewKey("rsa1024");
        var p = await AdminAccessFixture.AssertProblem(await fixture.Super.PostAsync("/api/v1/integrations",
            AdminAccessFixture.Json(new { name = "old", domain = d, publicKey = weak.PublicPem, allowedSources = new[] { "127.0.0.1" } })), HttpStatusCode.BadRequest);
        Assert.Contains("2048", p.GetProperty("detail").GetString());
        // A private key is not a public key, and a source must be an address or a prefix.
        await AdminAccessFixture.AssertProblem(await fixture.Super.PostAsync("/api/v1/integrations",
            AdminAccessFixture.Json(new { name = "oops", domain = d, publicKey = weak.PrivatePem })), HttpStatusCode.BadRequest);
        await AdminAccessFixture.AssertProblem(await fixture.Super.PostAsync("/api/v1/integrations",
            AdminAccessFixture.Json(new { name = "x", domain = d, publicKey = IntegrationSigner.NewKey("ed25519").PublicPem, allowedSources = new[] { "10.0.0.1/8" } })), HttpStatusCode.BadRequest);
        await AdminAccessFixture.AssertProblem(await fixture.Super.PostAsync("/api/v1/integrations",
            AdminAccessFixture.Json(new { name = "x", domain = "nowhere.test", publicKey = IntegrationSigner.NewKey("ed25519").PublicPem })), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Expired_replayed_wrongly_signed_and_tampered_requests_are_refused()
    {
        var d = await fixture.NewDomain("r");
        var user = await fixture.NewAccount(d, "reader");
        var key = IntegrationSigner.NewKey("ed25519");
        var id = await Register(d, key, "127.0.0.0/8");
        var path = $"/api/v1/integration/accounts/{user}/unread";
        using var anon = Anon();

        // Six minutes old, or six minutes ahead: outside the five-minute window.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var p = await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, path, timestamp: now - 360)), HttpStatusCode.Unauthorized);
        Assert.Contains("timestamp", p.GetProperty("detail").GetString());
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, path, timestamp: now + 360)), HttpStatusCode.Unauthorized);
        // Four minutes old is still fine.
        Assert.Equal(HttpStatusCode.OK, (await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, path, timestamp: now - 240))).StatusCode);

        // Once only, whatever the gateway.
        var first = IntegrationSigner.Request(id, key, HttpMethod.Get, path);
        var replay = await IntegrationSigner.Copy(first);
        Assert.Equal(HttpStatusCode.OK, (await anon.SendAsync(first)).StatusCode);
        p = await AdminAccessFixture.AssertProblem(await anon.SendAsync(replay), HttpStatusCode.Unauthorized);
        Assert.Contains("Replayed", p.GetProperty("detail").GetString());

        // Signed with a key that is not the registered one.
        var stranger = IntegrationSigner.NewKey("ed25519");
        p = await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, stranger, HttpMethod.Get, path)), HttpStatusCode.Unauthorized);
        Assert.Equal("Bad signature", p.GetProperty("detail").GetString());

        // The signature covers the path and the body.
        var moved = IntegrationSigner.Request(id, key, HttpMethod.Get, path);
        var other = await fixture.NewAccount(d, "other");
        var redirected = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/integration/accounts/{other}/unread");
        foreach (var h in moved.Headers) redirected.Headers.TryAddWithoutValidation(h.Key, h.Value);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(redirected), HttpStatusCode.Unauthorized);
        var signed = IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{user}\"}}"));
        signed.Content = new ByteArrayContent(IntegrationSigner.Utf8($"{{\"address\":\"{other}\"}}"));
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(signed), HttpStatusCode.Unauthorized);

        // No signature at all, or an integration nobody registered.
        await AdminAccessFixture.AssertProblem(await anon.GetAsync(path), HttpStatusCode.Unauthorized);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(Guid.NewGuid(), key, HttpMethod.Get, path)), HttpStatusCode.Unauthorized);
        // A removed integration signs nothing any more.
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.DeleteAsync($"/api/v1/integrations/{id}")).StatusCode);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, path)), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task An_unregistered_source_address_is_refused_except_for_single_sign_on()
    {
        var d = await fixture.NewDomain("p");
        var user = await fixture.NewAccount(d, "walker");
        var key = IntegrationSigner.NewKey("rsa2048");
        // Documentation range (RFC 5737): the tests call from 127.0.0.1, never from there.
        var id = await Register(d, key, "192.0.2.0/24");
        using var anon = Anon();
        var p = await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Get, $"/api/v1/integration/accounts/{user}/unread")), HttpStatusCode.Forbidden);
        Assert.Contains("127.0.0.1", p.GetProperty("detail").GetString());
        var r = await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{user}\"}}")));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
    }

    [Fact]
    public async Task Single_sign_on_gives_a_user_token_once()
    {
        var d = await fixture.NewDomain("o");
        var user = await fixture.NewAccount(d, "alice");
        var neighbour = await fixture.NewAccount(d, "bob");
        var key = IntegrationSigner.NewKey("ed25519");
        var id = await Register(d, key, "127.0.0.1");
        using var anon = Anon();
        var r = await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{user}\"}}")));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var sso = await r.Content.ReadFromJsonAsync<JsonElement>();
        var url = sso.GetProperty("loginUrl").GetString()!;
        Assert.StartsWith(fixture.Host.BaseUrl + "/api/v1/sso/gmt_", url);

        var login = await anon.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal("no-store", login.Headers.CacheControl?.ToString());
        var session = await login.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(user, session.GetProperty("account").GetString());
        Assert.Equal("user", session.GetProperty("kind").GetString());
        // Once.
        await AdminAccessFixture.AssertProblem(await anon.GetAsync(url), HttpStatusCode.NotFound);

        // The token is the user's own: its account and mailbox, nothing of anyone else's, no admin act.
        using var me = fixture.Client(session.GetProperty("token").GetString());
        Assert.Equal(HttpStatusCode.OK, (await me.GetAsync($"/api/v1/accounts/{user}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await me.GetAsync($"/api/v1/accounts/{user}/mailbox")).StatusCode);
        await AdminAccessFixture.AssertProblem(await me.GetAsync($"/api/v1/accounts/{neighbour}"), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await me.PutAsync($"/api/v1/accounts/{user}/quota", AdminAccessFixture.Json(new { quotaBytes = 1L << 40 })), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await me.GetAsync($"/api/v1/domains/{d}/accounts"), HttpStatusCode.Forbidden);
        Assert.Empty((await me.GetFromJsonAsync<JsonElement>("/api/v1/domains")).EnumerateArray());

        // Only accounts of the integration's domain, and only existing ones.
        var stranger = await fixture.NewAccount(await fixture.NewDomain("x"), "eve");
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{stranger}\"}}"))), HttpStatusCode.Forbidden);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"nobody@{d}\"}}"))), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_browser_opening_the_sign_on_url_is_sent_to_the_webmail_which_redeems_the_ticket_once_by_post()
    {
        var started = DateTimeOffset.UtcNow.AddMinutes(-1);
        var d = await fixture.NewDomain("w");
        var user = await fixture.NewAccount(d, "dana");
        var key = IntegrationSigner.NewKey("ed25519");
        var id = await Register(d, key, "127.0.0.1");
        using var anon = Anon();
        var r = await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{user}\"}}")));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var sso = await r.Content.ReadFromJsonAsync<JsonElement>();
        var ticket = sso.GetProperty("ticket").GetString()!;
        Assert.Equal($"{fixture.Host.BaseUrl}/mail/#sso={ticket}", sso.GetProperty("webmailUrl").GetString());

        // A browser's navigation: sent on to the webmail with the ticket in the fragment, the ticket not spent.
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        var open = new HttpRequestMessage(HttpMethod.Get, sso.GetProperty("loginUrl").GetString());
        open.Headers.TryAddWithoutValidation("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        var handoff = await browser.SendAsync(open);
        Assert.Equal(HttpStatusCode.Redirect, handoff.StatusCode);
        Assert.Equal($"/mail/#sso={ticket}", handoff.Headers.Location?.OriginalString);
        Assert.Equal("no-store", handoff.Headers.CacheControl?.ToString());

        // The page posts the ticket: a user session once, then refused.
        var redeemed = await anon.PostAsync("/api/v1/sso", AdminAccessFixture.Json(new { ticket }));
        Assert.Equal(HttpStatusCode.OK, redeemed.StatusCode);
        Assert.Equal("no-store", redeemed.Headers.CacheControl?.ToString());
        var session = await redeemed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(user, session.GetProperty("account").GetString());
        Assert.Equal("user", session.GetProperty("kind").GetString());
        using (var me = fixture.Client(session.GetProperty("token").GetString()))
            Assert.Equal(HttpStatusCode.OK, (await me.GetAsync($"/api/v1/accounts/{user}/mailbox")).StatusCode);
        await AdminAccessFixture.AssertProblem(await anon.PostAsync("/api/v1/sso", AdminAccessFixture.Json(new { ticket })), HttpStatusCode.NotFound);
        await AdminAccessFixture.AssertProblem(await anon.GetAsync(sso.GetProperty("loginUrl").GetString()), HttpStatusCode.NotFound);

        // Audited as the user's sign-in, without a second factor asked; no entry holds the ticket.
        var entries = new List<JsonElement>();
        await Eventually.Until(async () =>
        {
            var page = await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/audit?target={Uri.EscapeDataString(user)}&limit=100");
            entries = page.GetProperty("items").EnumerateArray().ToList();
            return entries.Any(e => e.GetProperty("action").GetString() == "login.sso" && e.GetProperty("result").GetString() == "ok");
        }, TimeSpan.FromSeconds(20), "the sign-on's audit entry");
        var signIn = entries.Last(e => e.GetProperty("action").GetString() == "login.sso" && e.GetProperty("result").GetString() == "ok");
        Assert.Equal(user, signIn.GetProperty("actor").GetString());
        Assert.Equal("user", signIn.GetProperty("actorRole").GetString());
        Assert.Contains("not asked", signIn.GetProperty("detail").GetString());
        var all = await fixture.Super.GetStringAsync($"/api/v1/audit/export?from={Uri.EscapeDataString(started.ToString("O"))}");
        Assert.Contains("login.sso.handoff", all);
        Assert.DoesNotContain(ticket, all);
        Assert.DoesNotContain(session.GetProperty("token").GetString()!, all);
    }

    private static HttpRequestMessage SignedCsv(Guid id, IntegrationKey key, string target, string csv)
    {
        var req = IntegrationSigner.Request(id, key, HttpMethod.Post, target, IntegrationSigner.Utf8(csv));
        req.Content!.Headers.ContentType = new("text/csv");
        return req;
    }

    [Fact]
    public async Task Organisation_sync_pushes_departments_and_accounts_of_the_integrations_domain_only()
    {
        var d = await fixture.NewDomain("s");
        var key = IntegrationSigner.NewKey("ed25519");
        var id = await Register(d, key, "127.0.0.1", "::1");
        using var anon = Anon();

        // A department before anyone is in it, made level by level; the same path again is the same department.
        async Task<JsonElement> Ensure(params string[] path)
        {
            var r = await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Put, "/api/v1/integration/departments",
                IntegrationSigner.Utf8(JsonSerializer.Serialize(new { path }))));
            Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
            return await r.Content.ReadFromJsonAsync<JsonElement>();
        }
        var made = await Ensure("Research", "Labs");
        Assert.Equal(2, made.GetProperty("created").GetInt32());
        var again = await Ensure("Research", "Labs");
        Assert.Equal(0, again.GetProperty("created").GetInt32());
        Assert.Equal(made.GetProperty("id").GetInt64(), again.GetProperty("id").GetInt64());
        var tree = (await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/departments")).EnumerateArray()
            .Select(x => x.GetProperty("path").GetString()).ToList();
        Assert.Contains("Research/Labs", tree);
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Put, "/api/v1/integration/departments",
            IntegrationSigner.Utf8(JsonSerializer.Serialize(new { path = Enumerable.Range(1, 13).Select(i => $"L{i}").ToArray() })))), HttpStatusCode.BadRequest);

        // Accounts as the import's CSV: a dry run writes nothing, the sync creates, a re-run changes nothing.
        var csv = "address,displayName,department,title\r\n" +
            $"wang.fang@{d},王芳,Research/Labs,Chemist\r\n" +
            $"li.lei@{d},Li Lei,Sales/East,\r\n";
        var dry = await anon.SendAsync(SignedCsv(id, key, "/api/v1/integration/directory?dryRun=true", csv));
        Assert.True(dry.StatusCode == HttpStatusCode.OK, await dry.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Super.GetAsync($"/api/v1/accounts/wang.fang@{d}")).StatusCode);
        var sync = await anon.SendAsync(SignedCsv(id, key, "/api/v1/integration/directory", csv));
        var report = await sync.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(sync.StatusCode == HttpStatusCode.OK, report.ToString());
        Assert.Equal(2, report.GetProperty("created").GetInt32());
        Assert.Equal(2, report.GetProperty("departmentsCreated").GetInt32()); // Sales and Sales/East; Research/Labs existed
        var wang = await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/wang.fang@{d}");
        Assert.Equal("Research/Labs", wang.GetProperty("department").GetString());
        Assert.Equal("王芳", wang.GetProperty("displayName").GetString());
        var rerun = await (await anon.SendAsync(SignedCsv(id, key, "/api/v1/integration/directory", csv))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, rerun.GetProperty("unchanged").GetInt32());
        // A change pushed later: the HR system moves and disables someone.
        var moved = await anon.SendAsync(SignedCsv(id, key, "/api/v1/integration/directory", $"address,department,enabled\r\nli.lei@{d},Research,false\r\n"));
        Assert.Equal(1, (await moved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("updated").GetInt32());
        var li = await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/li.lei@{d}");
        Assert.Equal("Research", li.GetProperty("department").GetString());
        Assert.False(li.GetProperty("enabled").GetBoolean());

        // Rows of another domain are errors with their line; nothing is written.
        var other = await fixture.NewDomain("x");
        var refused = await anon.SendAsync(SignedCsv(id, key, "/api/v1/integration/directory", $"address,department\r\nnew.one@{d},Research\r\nspy@{other},Research\r\n"));
        var problem = await AdminAccessFixture.AssertProblem(refused, HttpStatusCode.BadRequest);
        Assert.Equal(3, problem.GetProperty("errors")[0].GetProperty("line").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Super.GetAsync($"/api/v1/accounts/new.one@{d}")).StatusCode);

        // Unsigned, or from a source the integration did not register: refused like every signed endpoint.
        using var unsigned = new ByteArrayContent(IntegrationSigner.Utf8(csv));
        await AdminAccessFixture.AssertProblem(await anon.PostAsync("/api/v1/integration/directory", unsigned), HttpStatusCode.Unauthorized);
        var far = await Register(d, key, "192.0.2.0/24");
        await AdminAccessFixture.AssertProblem(await anon.SendAsync(SignedCsv(far, key, "/api/v1/integration/directory", csv)), HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa2048")]
    public async Task The_cli_signs_organisation_sync_with_the_integrations_private_key(string kind)
    {
        var d = await fixture.NewDomain("c");
        var key = IntegrationSigner.NewKey(kind);
        var id = await Register(d, key, "127.0.0.1", "::1");
        var keyFile = Path.GetTempFileName();
        var csvFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(keyFile, key.PrivatePem);
            await File.WriteAllTextAsync(csvFile, $"address,displayName,department\r\nops.lead@{d},Ops Lead,Ops/Night\r\n");
            var dept = await fixture.Cli(null, "integration", "department", id.ToString(), keyFile, "Ops/Day");
            Assert.True(dept.ExitCode == 0, dept.Out + dept.Err);
            Assert.Equal(2, dept.Json.GetProperty("created").GetInt32());
            var dry = await fixture.Cli(null, "integration", "sync", id.ToString(), keyFile, csvFile, "dry-run");
            Assert.True(dry.ExitCode == 0, dry.Out + dry.Err);
            Assert.True(dry.Json.GetProperty("dryRun").GetBoolean());
            var sync = await fixture.Cli(null, "integration", "sync", id.ToString(), keyFile, csvFile);
            Assert.True(sync.ExitCode == 0, sync.Out + sync.Err);
            Assert.Equal(1, sync.Json.GetProperty("created").GetInt32());
            var lead = await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ops.lead@{d}");
            Assert.Equal("Ops/Night", lead.GetProperty("department").GetString());
            // Another key than the registered one: refused, and the CLI says so by its exit code.
            var stranger = IntegrationSigner.NewKey(kind);
            await File.WriteAllTextAsync(keyFile, stranger.PrivatePem);
            Assert.NotEqual(0, (await fixture.Cli(null, "integration", "sync", id.ToString(), keyFile, csvFile)).ExitCode);
        }
        finally
        {
            File.Delete(keyFile);
            File.Delete(csvFile);
        }
    }

    [Fact]
    public async Task The_cli_signs_unread_count_and_single_sign_on_requests()
    {
        var d = await fixture.NewDomain("s");
        var user = await fixture.NewAccount(d, "reader");
        var key = IntegrationSigner.NewKey("ed25519");
        var id = (await Register(d, key, "127.0.0.1", "::1")).ToString();
        var keyFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(keyFile, key.PrivatePem);
            await Deliver(user, 2);
            await Eventually.Until(async () =>
            {
                var unread = await fixture.Cli(null, "integration", "unread", id, keyFile, user);
                Assert.True(unread.ExitCode == 0, unread.Out + unread.Err);
                return unread.Json.GetProperty("unread").GetInt32() == 2;
            }, TimeSpan.FromSeconds(30), "two unread messages through the CLI");

            var sso = await fixture.Cli(null, "integration", "sso", id, keyFile, user);
            Assert.True(sso.ExitCode == 0, sso.Out + sso.Err);
            Assert.StartsWith(fixture.Host.BaseUrl + "/mail/#sso=gmt_", sso.Json.GetProperty("webmailUrl").GetString());
            using var anon = Anon();
            var login = await anon.GetAsync(sso.Json.GetProperty("loginUrl").GetString());
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            Assert.Equal(user, (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("account").GetString());

            // Refused: an account outside the integration's domain; the CLI fails and prints the problem.
            var stranger = await fixture.NewAccount(await fixture.NewDomain("x"), "eve");
            foreach (var verb in new[] { "unread", "sso" })
            {
                var refused = await fixture.Cli(null, "integration", verb, id, keyFile, stranger);
                Assert.NotEqual(0, refused.ExitCode);
                Assert.Contains("Outside the integration's domain", refused.Out);
            }
            // Signed with another key than the registered one: refused too.
            await File.WriteAllTextAsync(keyFile, IntegrationSigner.NewKey("ed25519").PrivatePem);
            var forged = await fixture.Cli(null, "integration", "unread", id, keyFile, user);
            Assert.NotEqual(0, forged.ExitCode);
            Assert.DoesNotContain("\"unread\"", forged.Out);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }
}
