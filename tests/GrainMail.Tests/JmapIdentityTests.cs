using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>Identity/get, /changes and /set (RFC 8621 6) over real HTTPS: the account's address and its aliases.</summary>
public sealed class JmapIdentityTests(JmapHostFixture fixture) : IClassFixture<JmapHostFixture>
{
    private const string Submission = "urn:ietf:params:jmap:submission";

    [Fact]
    public async Task Identities_are_the_accounts_address_and_aliases_and_changes_follow_a_new_alias()
    {
        var address = await fixture.NewAccountAsync("ida");
        var domain = address.Split('@')[1];
        using var client = await fixture.LoginAsync(address);
        Assert.NotNull(client.Session["capabilities"]![Submission]);
        var accountId = client.AccountId;
        Assert.NotNull(client.Session["accounts"]![accountId]!["accountCapabilities"]![Submission]);

        var got = (await client.CallAsync("Identity/get", new { accountId }, JmapClient.Core, Submission)).Of("Identity/get");
        var list = (JsonArray)got["list"]!;
        var only = Assert.Single(list)!;
        Assert.Equal(address, (string)only["email"]!);
        Assert.Equal("ida", (string)only["name"]!);
        Assert.False((bool)only["mayDelete"]!);
        var state = (string)got["state"]!;

        // Nothing changed: /changes says so.
        var same = (await client.CallAsync("Identity/changes", new { accountId, sinceState = state }, JmapClient.Core, Submission)).Of("Identity/changes");
        Assert.Equal(state, (string)same["newState"]!);
        Assert.Empty((JsonArray)same["created"]!);

        // An alias is a new identity, and a new state.
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{address}/aliases", new { alias = "sales" })).StatusCode);
        var after = (await client.CallAsync("Identity/get", new { accountId }, JmapClient.Core, Submission)).Of("Identity/get");
        Assert.Equal([address, $"sales@{domain}"], ((JsonArray)after["list"]!).Select(i => (string)i!["email"]!).ToArray());
        Assert.NotEqual(state, (string)after["state"]!);
        var changed = await client.CallAsync("Identity/changes", new { accountId, sinceState = state }, JmapClient.Core, Submission);
        Assert.Equal("cannotCalculateChanges", changed.ErrorType());

        // ids, properties and notFound.
        var id = (string)only["id"]!;
        var some = (await client.CallAsync("Identity/get", new { accountId, ids = new[] { id, "Inope" }, properties = new[] { "email" } }, JmapClient.Core, Submission)).Of("Identity/get");
        var one = (JsonObject)Assert.Single((JsonArray)some["list"]!)!;
        Assert.Equal(["id", "email"], one.Select(p => p.Key).ToArray());
        Assert.Equal(["Inope"], ((JsonArray)some["notFound"]!).Select(x => (string)x!).ToArray());

        // Changes are refused per object, with the RFC's set errors; a stale ifInState is stateMismatch.
        var set = (await client.CallAsync("Identity/set", new
        {
            accountId,
            create = new Dictionary<string, object> { ["k1"] = new { email = "other@elsewhere.test" } },
            update = new Dictionary<string, object> { [id] = new { name = "x" }, ["Inope"] = new { name = "y" } },
            destroy = new[] { id },
        }, JmapClient.Core, Submission)).Of("Identity/set");
        Assert.Equal("forbidden", (string)set["notCreated"]!["k1"]!["type"]!);
        Assert.Equal("forbidden", (string)set["notUpdated"]![id]!["type"]!);
        Assert.Equal("notFound", (string)set["notUpdated"]!["Inope"]!["type"]!);
        Assert.Equal("forbidden", (string)set["notDestroyed"]![id]!["type"]!);
        Assert.Equal("stateMismatch", (await client.CallAsync("Identity/set", new { accountId, ifInState = state }, JmapClient.Core, Submission)).ErrorType());
        // Without the capability in "using", the method is unknown (RFC 8620 3.6.2).
        Assert.Equal("unknownMethod", (await client.CallAsync("Identity/get", new { accountId }, JmapClient.Core)).ErrorType());
        Assert.Equal("accountNotFound", (await client.CallAsync("Identity/get", new { accountId = "Anope" }, JmapClient.Core, Submission)).ErrorType());
    }
}
