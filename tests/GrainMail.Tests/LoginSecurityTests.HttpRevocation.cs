using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using static GrainMail.Tests.Infrastructure.LoginSecurityHostFixture;

namespace GrainMail.Tests;

/// <summary>
/// HTTP authentication of the user API, as the address book's clients use it: repeated Basic
/// requests of one client make one login record, yet every request is checked, so each way of
/// revoking access refuses the very next request (issue 15, session 8).
/// </summary>
public sealed partial class LoginSecurityTests
{
    private const string Book = "/api/v1/me/address-book?q=a";

    [Fact]
    public async Task Repeated_basic_requests_make_one_login_record_and_every_revocation_refuses_the_next_request()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "phone");
        var app = await host.Super.PostAsync($"/api/v1/accounts/{a}/app-passwords", Json(new { name = "carddav" }));
        Assert.Equal(HttpStatusCode.Created, app.StatusCode);
        var appPassword = (await app.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;

        // Ten requests of one client: ten checks, one record of the login.
        using (var client = host.Https(a, appPassword))
        {
            for (var i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Book)).StatusCode);
            // App password revoked: the next request of the same client is refused.
            Assert.Equal(HttpStatusCode.NoContent, (await host.Super.DeleteAsync($"/api/v1/accounts/{a}/app-passwords/carddav")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(Book)).StatusCode);
        }
        var rows = await WaitForLogins(a, l => l.Any(r => Text(r, "result") == "bad-credentials"), "the refusal after the revocation");
        Assert.Single(rows, r => Text(r, "channel") == "http-basic" && Text(r, "result") == "success");

        // Password changed by the admin: the old one stops at once.
        using (var client = host.Https(a, Password))
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Book)).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await host.Super.PutAsync($"/api/v1/accounts/{a}/password", Json(new { password = "another horse battery" }))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(Book)).StatusCode);
        }

        // A session token (the webmail's credential), then sign-out: the token stops at once.
        using var https = host.Https(a, "another horse battery");
        var login = await https.PostAsync("/api/v1/me/sessions", Json(new { address = a, password = "another horse battery" }));
        Assert.Equal(HttpStatusCode.Created, login.StatusCode);
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using (var session = host.Https(a, "unused"))
        {
            session.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await session.GetAsync(Book)).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await session.DeleteAsync("/api/v1/me/sessions/current")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await session.GetAsync(Book)).StatusCode);
        }

        // Account disabled: Basic and a fresh session token both stop at once.
        var again = await https.PostAsync("/api/v1/me/sessions", Json(new { address = a, password = "another horse battery" }));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        using var second = host.Https(a, "unused");
        second.DefaultRequestHeaders.Authorization = new("Bearer", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync(Book)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync(Book)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.PutAsync($"/api/v1/accounts/{a}/enabled", Json(new { enabled = false }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await https.GetAsync(Book)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync(Book)).StatusCode);
    }
}
