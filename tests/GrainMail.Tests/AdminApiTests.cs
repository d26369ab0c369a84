using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>One real host process shared by the admin API tests of this class.</summary>
public sealed class AdminHostFixture : IAsyncLifetime
{
    public HostProcess Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        var cs = await pg.NewDatabaseAsync("api");
        Host = await HostProcess.StartAsync(cs, Path.Combine(pg.Root, "api-host"), HostProcess.Ports.Free());
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Every admin API endpoint over real HTTP: success and error cases.</summary>
public sealed class AdminApiTests(AdminHostFixture fixture) : IClassFixture<AdminHostFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static StringContent Json(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    private async Task<HttpResponseMessage> Post(string path, object body) => await Http.PostAsync(path, Json(body));

    private static async Task AssertProblem(HttpResponseMessage r, HttpStatusCode status)
    {
        Assert.Equal(status, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal((int)status, doc.RootElement.GetProperty("status").GetInt32());
    }

    private async Task<string> NewDomain(long? maxMessageBytes = null)
    {
        var name = $"d{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Post("/api/v1/domains", new { name, maxMessageBytes });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return name;
    }

    private async Task NewAccount(string domain, string localPart) =>
        Assert.Equal(HttpStatusCode.Created,
            (await Post($"/api/v1/domains/{domain}/accounts", new { localPart, password = "correct horse", displayName = localPart })).StatusCode);

    [Fact]
    public async Task Health_endpoints_answer_without_a_token()
    {
        using var anon = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        Assert.Equal(HttpStatusCode.OK, (await anon.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anon.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Api_needs_the_right_bearer_token()
    {
        using var anon = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        var missing = await anon.GetAsync("/api/v1/domains");
        await AssertProblem(missing, HttpStatusCode.Unauthorized);
        Assert.Contains("Bearer", missing.Headers.WwwAuthenticate.ToString());
        anon.DefaultRequestHeaders.Authorization = new("Bearer", "not-the-token");
        await AssertProblem(await anon.GetAsync("/api/v1/domains"), HttpStatusCode.Forbidden);
        await AssertProblem(await anon.PostAsync("/api/v1/domains", Json(new { name = "x.test" })), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Domains_are_created_listed_and_deleted()
    {
        var name = await NewDomain();
        await AssertProblem(await Post("/api/v1/domains", new { name = name.ToUpperInvariant() }), HttpStatusCode.Conflict);
        await AssertProblem(await Post("/api/v1/domains", new { name = "not a domain" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/domains", new { name = "nodots" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.PostAsync("/api/v1/domains", new StringContent("{not json", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);

        var list = await Http.GetFromJsonAsync<JsonElement>("/api/v1/domains");
        Assert.Contains(list.EnumerateArray(), d => d.GetProperty("name").GetString() == name);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"/api/v1/domains/{name}")).StatusCode);
        await AssertProblem(await Http.GetAsync("/api/v1/domains/unknown-domain.test"), HttpStatusCode.NotFound);

        await NewAccount(name, "someone");
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{name}"), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/accounts/someone@{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/domains/{name}")).StatusCode);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{name}"), HttpStatusCode.NotFound);
        list = await Http.GetFromJsonAsync<JsonElement>("/api/v1/domains");
        Assert.DoesNotContain(list.EnumerateArray(), d => d.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task Accounts_are_created_listed_changed_and_deleted()
    {
        var d = await NewDomain();
        await NewAccount(d, "Alice");
        await AssertProblem(await Post($"/api/v1/domains/{d}/accounts", new { localPart = "alice", password = "another one" }), HttpStatusCode.Conflict);
        await AssertProblem(await Post($"/api/v1/domains/{d}/accounts", new { localPart = "bob", password = "short" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post($"/api/v1/domains/{d}/accounts", new { localPart = "bad name", password = "long enough" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/domains/nowhere.test/accounts", new { localPart = "bob", password = "long enough" }), HttpStatusCode.NotFound);

        var accounts = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts");
        Assert.Equal([$"alice@{d}"], accounts.EnumerateArray().Select(a => a.GetProperty("address").GetString()));
        await AssertProblem(await Http.GetAsync("/api/v1/domains/nowhere.test/accounts"), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.PutAsync($"/api/v1/accounts/alice@{d}/password", Json(new { password = "new password!" }))).StatusCode);
        await AssertProblem(await Http.PutAsync($"/api/v1/accounts/alice@{d}/password", Json(new { password = "short" })), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.PutAsync($"/api/v1/accounts/nobody@{d}/password", Json(new { password = "long enough" })), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.PutAsync($"/api/v1/accounts/alice@{d}/enabled", Json(new { enabled = false }))).StatusCode);
        Assert.False((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/alice@{d}")).GetProperty("enabled").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, (await Http.PutAsync($"/api/v1/accounts/alice@{d}/enabled", Json(new { enabled = true }))).StatusCode);
        Assert.True((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/alice@{d}")).GetProperty("enabled").GetBoolean());
        await AssertProblem(await Http.PutAsync($"/api/v1/accounts/alice@{d}/enabled", Json(new { other = 1 })), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.PutAsync($"/api/v1/accounts/nobody@{d}/enabled", Json(new { enabled = true })), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/accounts/alice@{d}")).StatusCode);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/accounts/alice@{d}"), HttpStatusCode.NotFound);
        await AssertProblem(await Http.DeleteAsync("/api/v1/accounts/not-an-address"), HttpStatusCode.BadRequest);
        await AssertProblem(await Http.GetAsync($"/api/v1/accounts/alice@{d}/mailbox"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task App_passwords_are_shown_once_and_revoked_one_by_one()
    {
        var d = await NewDomain();
        await NewAccount(d, "carol");
        var r = await Post($"/api/v1/accounts/carol@{d}/app-passwords", new { name = "Thunderbird" });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var pw = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;
        Assert.Matches("^[a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4}$", pw);
        Assert.Equal(HttpStatusCode.Created, (await Post($"/api/v1/accounts/carol@{d}/app-passwords", new { name = "Phone" })).StatusCode);
        await AssertProblem(await Post($"/api/v1/accounts/carol@{d}/app-passwords", new { name = "Phone" }), HttpStatusCode.Conflict);
        await AssertProblem(await Post($"/api/v1/accounts/carol@{d}/app-passwords", new { name = "" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post($"/api/v1/accounts/nobody@{d}/app-passwords", new { name = "x" }), HttpStatusCode.NotFound);

        var account = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/carol@{d}");
        Assert.Equal(["Thunderbird", "Phone"], account.GetProperty("appPasswords").EnumerateArray().Select(e => e.GetString()));
        // Only names are ever shown again, never the secret.
        Assert.DoesNotContain(pw, account.GetRawText());

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/accounts/carol@{d}/app-passwords/Phone")).StatusCode);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/accounts/carol@{d}/app-passwords/Phone"), HttpStatusCode.NotFound);
        account = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/carol@{d}");
        Assert.Equal(["Thunderbird"], account.GetProperty("appPasswords").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Aliases_are_created_listed_and_deliver_to_every_target()
    {
        var d = await NewDomain();
        await NewAccount(d, "dave");
        await NewAccount(d, "erin");
        Assert.Equal(HttpStatusCode.Created, (await Post($"/api/v1/domains/{d}/aliases", new { alias = "team", targets = new[] { $"dave@{d}", $"erin@{d}" } })).StatusCode);
        await AssertProblem(await Post($"/api/v1/domains/{d}/aliases", new { alias = "dave", targets = new[] { $"erin@{d}" } }), HttpStatusCode.Conflict);
        await AssertProblem(await Post($"/api/v1/domains/{d}/aliases", new { alias = "x", targets = new[] { "not an address" } }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post($"/api/v1/domains/{d}/aliases", new { alias = "x", targets = Array.Empty<string>() }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/domains/nowhere.test/aliases", new { alias = "x", targets = new[] { "a@b.test" } }), HttpStatusCode.NotFound);
        var aliases = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/aliases");
        var team = aliases.EnumerateArray().Single();
        Assert.Equal($"team@{d}", team.GetProperty("address").GetString());
        Assert.Equal(2, team.GetProperty("targets").GetArrayLength());

        var raw = Messages.Simple($"x@{d}", $"team@{d}", "to the team", "hello team");
        var r = await Post("/api/v1/messages", new { from = $"x@{d}", to = new[] { $"team@{d}" }, raw = Convert.ToBase64String(raw) });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        Assert.Equal(2, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deliveries").GetInt32());
        await WaitForInbox($"dave@{d}", 1);
        await WaitForInbox($"erin@{d}", 1);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/api/v1/domains/{d}/aliases/team")).StatusCode);
        await AssertProblem(await Http.DeleteAsync($"/api/v1/domains/{d}/aliases/team"), HttpStatusCode.NotFound);
        Assert.Empty((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/aliases")).EnumerateArray());
        await AssertProblem(await Post("/api/v1/messages", new { from = $"x@{d}", to = new[] { $"team@{d}" }, raw = Convert.ToBase64String(raw) }),
            HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Submitted_messages_land_in_the_mailbox_and_bad_ones_are_refused()
    {
        var d = await NewDomain(maxMessageBytes: 2000);
        await NewAccount(d, "frank");
        var to = new[] { $"frank@{d}" };
        var raw = Messages.Simple("someone@example.org", to[0], "hi", "short body");
        var r = await Post("/api/v1/messages", new { from = "someone@example.org", to, raw = Convert.ToBase64String(raw) });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        var box = await WaitForInbox(to[0], 1);
        Assert.Equal(raw.Length, box.GetProperty("quota").GetProperty("usedBytes").GetInt64());

        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to, raw = "***not base64***" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to, raw = "" }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to, raw = Convert.ToBase64String(new byte[] { 0, 1, 2 }) }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/messages", new { from = "not an address", to, raw = Convert.ToBase64String(raw) }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to = Array.Empty<string>(), raw = Convert.ToBase64String(raw) }), HttpStatusCode.BadRequest);
        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to = new[] { $"nobody@{d}" }, raw = Convert.ToBase64String(raw) }), HttpStatusCode.NotFound);
        var big = Messages.OfSize("a@example.org", to[0], 5000, 3);
        await AssertProblem(await Post("/api/v1/messages", new { from = "a@example.org", to, raw = Convert.ToBase64String(big) }), HttpStatusCode.RequestEntityTooLarge);

        // Nothing refused was stored.
        await Task.Delay(1000);
        box = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/frank@{d}/mailbox");
        Assert.Equal(1, box.GetProperty("quota").GetProperty("messages").GetInt32());
    }

    private async Task<JsonElement> WaitForInbox(string address, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var box = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox");
            var inbox = box.GetProperty("folders").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "INBOX");
            if (inbox.GetProperty("messages").GetInt32() >= count)
            {
                Assert.Equal(count, inbox.GetProperty("messages").GetInt32());
                Assert.Equal(count, inbox.GetProperty("unseen").GetInt32());
                return box;
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"{address} has {inbox.GetProperty("messages")} messages, expected {count}");
            await Task.Delay(200);
        }
    }
}
