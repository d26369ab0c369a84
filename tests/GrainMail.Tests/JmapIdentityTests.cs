using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// Identity/get, /changes and /set (RFC 8621 6) over real HTTPS: identities stored per account, one
/// made by the server for each address the account has, more created by the user for any address it
/// may send as (forbiddenFrom otherwise), names and signatures kept, changes computed from the state.
/// </summary>
public sealed class JmapIdentityTests(JmapHostFixture fixture) : IClassFixture<JmapHostFixture>
{
    private const string Submission = "urn:ietf:params:jmap:submission";

    private static async Task<JsonObject> CallAsync(JmapClient c, string name, object args) =>
        (await c.CallAsync(name, args, JmapClient.Core, Submission)).Of(name);

    private static string[] Ids(JsonNode? list) => ((JsonArray)list!).Select(x => (string)x!).ToArray();

    [Fact]
    public async Task Identities_are_the_accounts_address_and_aliases_and_changes_follow_a_new_alias()
    {
        var address = await fixture.NewAccountAsync("ida");
        var domain = address.Split('@')[1];
        using var client = await fixture.LoginAsync(address);
        Assert.NotNull(client.Session["capabilities"]![Submission]);
        var accountId = client.AccountId;
        Assert.NotNull(client.Session["accounts"]![accountId]!["accountCapabilities"]![Submission]);

        var got = await CallAsync(client, "Identity/get", new { accountId });
        var only = Assert.Single((JsonArray)got["list"]!)!;
        Assert.Equal(address, (string)only["email"]!);
        Assert.Equal("ida", (string)only["name"]!);
        Assert.Equal("", (string)only["textSignature"]!);
        Assert.False((bool)only["mayDelete"]!);
        var state = (string)got["state"]!;

        // Nothing changed: /changes says so.
        var same = await CallAsync(client, "Identity/changes", new { accountId, sinceState = state });
        Assert.Equal(state, (string)same["newState"]!);
        Assert.Empty((JsonArray)same["created"]!);

        // An alias is a new identity, and /changes names it as created.
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{address}/aliases", new { alias = "sales" })).StatusCode);
        var after = await CallAsync(client, "Identity/get", new { accountId });
        Assert.Equal([address, $"sales@{domain}"], ((JsonArray)after["list"]!).Select(i => (string)i!["email"]!).ToArray());
        var salesId = (string)((JsonArray)after["list"]!)[1]!["id"]!;
        Assert.True((bool)((JsonArray)after["list"]!)[1]!["mayDelete"]!);
        var changed = await CallAsync(client, "Identity/changes", new { accountId, sinceState = state });
        Assert.Equal([salesId], Ids(changed["created"]));
        Assert.Equal((string)after["state"]!, (string)changed["newState"]!);

        // The alias goes: so does its identity.
        var beforeRemoval = (string)after["state"]!;
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.DeleteAsync($"/api/v1/accounts/{address}/aliases/sales")).StatusCode);
        var removed = await CallAsync(client, "Identity/changes", new { accountId, sinceState = beforeRemoval });
        Assert.Equal([salesId], Ids(removed["destroyed"]));

        // ids, properties and notFound.
        var id = (string)only["id"]!;
        var some = await CallAsync(client, "Identity/get", new { accountId, ids = new[] { id, "Inope" }, properties = new[] { "email" } });
        var one = (JsonObject)Assert.Single((JsonArray)some["list"]!)!;
        Assert.Equal(["id", "email"], one.Select(p => p.Key).ToArray());
        Assert.Equal(["Inope"], Ids(some["notFound"]));

        Assert.Equal("stateMismatch", (await client.CallAsync("Identity/set", new { accountId, ifInState = state }, JmapClient.Core, Submission)).ErrorType());
        Assert.Equal("cannotCalculateChanges", (await client.CallAsync("Identity/changes", new { accountId, sinceState = "S1a2b" }, JmapClient.Core, Submission)).ErrorType());
        Assert.Equal("cannotCalculateChanges", (await client.CallAsync("Identity/changes", new { accountId, sinceState = "99999" }, JmapClient.Core, Submission)).ErrorType());
        Assert.Equal("invalidArguments", (await client.CallAsync("Identity/get", new { accountId, properties = new[] { "colour" } }, JmapClient.Core, Submission)).ErrorType());
        // Without the capability in "using", the method is unknown (RFC 8620 3.6.2).
        Assert.Equal("unknownMethod", (await client.CallAsync("Identity/get", new { accountId }, JmapClient.Core)).ErrorType());
        Assert.Equal("accountNotFound", (await client.CallAsync("Identity/get", new { accountId = "Anope" }, JmapClient.Core, Submission)).ErrorType());
    }

    [Fact]
    public async Task Names_and_signatures_are_kept_identities_for_sendable_addresses_are_made_and_others_are_refused()
    {
        var address = await fixture.NewAccountAsync("sig");
        var domain = address.Split('@')[1];
        var aliasDomain = $"da{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/domain-aliases", new { name = aliasDomain })).StatusCode);
        using var client = await fixture.LoginAsync(address);
        var accountId = client.AccountId;
        var start = await CallAsync(client, "Identity/get", new { accountId });
        var mine = (string)((JsonArray)start["list"]!)[0]!["id"]!;
        var state0 = (string)start["state"]!;

        // Update: name, signatures, replyTo and bcc are stored; the email may be repeated but not changed.
        var updated = await CallAsync(client, "Identity/set", new JsonObject
        {
            ["accountId"] = accountId,
            ["update"] = new JsonObject
            {
                [mine] = new JsonObject
                {
                    ["name"] = "Sig Nature",
                    ["email"] = address,
                    ["textSignature"] = "-- \nSig, Sales",
                    ["htmlSignature"] = "<p>Sig, <b>Sales</b></p>",
                    ["replyTo"] = new JsonArray(new JsonObject { ["name"] = "Desk", ["email"] = $"desk@{domain}" }),
                    ["bcc"] = new JsonArray(new JsonObject { ["email"] = $"archive@{domain}" }),
                },
            },
        });
        Assert.True(((JsonObject)updated["updated"]!).ContainsKey(mine));
        var got = (JsonObject)((JsonArray)(await CallAsync(client, "Identity/get", new { accountId, ids = new[] { mine } }))["list"]!)[0]!;
        Assert.Equal(("Sig Nature", "-- \nSig, Sales", "<p>Sig, <b>Sales</b></p>"), ((string)got["name"]!, (string)got["textSignature"]!, (string)got["htmlSignature"]!));
        Assert.Equal($"desk@{domain}", (string)got["replyTo"]![0]!["email"]!);
        Assert.Equal($"archive@{domain}", (string)got["bcc"]![0]!["email"]!);
        var changes = await CallAsync(client, "Identity/changes", new { accountId, sinceState = state0 });
        Assert.Equal([mine], Ids(changes["updated"]));
        Assert.Empty((JsonArray)changes["created"]!);

        // Create: the domain-alias form of the address may be sent as; a stranger's address may not.
        var state1 = (string)changes["newState"]!;
        var aliasForm = $"sig@{aliasDomain}";
        var set = await CallAsync(client, "Identity/set", new JsonObject
        {
            ["accountId"] = accountId,
            ["ifInState"] = state1,
            ["create"] = new JsonObject
            {
                ["k1"] = new JsonObject { ["email"] = aliasForm, ["name"] = "Sig abroad" },
                ["k2"] = new JsonObject { ["email"] = $"boss@{domain}" },
                ["k3"] = new JsonObject { ["name"] = "no address" },
                ["k4"] = new JsonObject { ["email"] = aliasForm, ["mayDelete"] = false, ["colour"] = "red" },
                ["k5"] = new JsonObject { ["email"] = aliasForm, ["replyTo"] = "not a list" },
            },
            ["update"] = new JsonObject
            {
                [mine] = new JsonObject { ["email"] = $"other@{domain}" },
                ["Inope"] = new JsonObject { ["name"] = "y" },
            },
            ["destroy"] = new JsonArray(mine, "Inope"),
        });
        var created = (JsonObject)set["created"]!["k1"]!;
        var newId = (string)created["id"]!;
        Assert.True((bool)created["mayDelete"]!);
        Assert.Equal("", (string)created["textSignature"]!); // a default the client did not give
        Assert.Equal("forbiddenFrom", (string)set["notCreated"]!["k2"]!["type"]!);
        Assert.Equal("invalidProperties", (string)set["notCreated"]!["k3"]!["type"]!);
        Assert.Equal(["email"], Ids(set["notCreated"]!["k3"]!["properties"]));
        Assert.Equal(["mayDelete", "colour"], Ids(set["notCreated"]!["k4"]!["properties"]));
        Assert.Equal(["replyTo"], Ids(set["notCreated"]!["k5"]!["properties"]));
        Assert.Equal("invalidProperties", (string)set["notUpdated"]![mine]!["type"]!);
        Assert.Equal("notFound", (string)set["notUpdated"]!["Inope"]!["type"]!);
        // The identity of the account's own address stays (the default every client falls back to).
        Assert.Equal("forbidden", (string)set["notDestroyed"]![mine]!["type"]!);
        Assert.Equal("notFound", (string)set["notDestroyed"]!["Inope"]!["type"]!);

        var withNew = await CallAsync(client, "Identity/get", new { accountId });
        Assert.Equal([address, aliasForm], ((JsonArray)withNew["list"]!).Select(i => (string)i!["email"]!).ToArray());
        var createdChanges = await CallAsync(client, "Identity/changes", new { accountId, sinceState = state1 });
        Assert.Equal([newId], Ids(createdChanges["created"]));

        // Destroy the created one: gone from /get, destroyed in /changes; maxChanges pages.
        var state2 = (string)withNew["state"]!;
        var destroyed = await CallAsync(client, "Identity/set", new { accountId, destroy = new[] { newId } });
        Assert.Equal([newId], Ids(destroyed["destroyed"]));
        Assert.Equal([address], ((JsonArray)(await CallAsync(client, "Identity/get", new { accountId }))["list"]!).Select(i => (string)i!["email"]!).ToArray());
        Assert.Equal([newId], Ids((await CallAsync(client, "Identity/changes", new { accountId, sinceState = state2 }))["destroyed"]));
        var page = await CallAsync(client, "Identity/changes", new { accountId, sinceState = state0, maxChanges = 1 });
        Assert.True((bool)page["hasMoreChanges"]!);
        Assert.Equal([mine], Ids(page["updated"]));

        // Kept on the silo: a new login (any gateway) sees the same.
        using var again = await fixture.LoginAsync(address);
        var kept = (JsonObject)((JsonArray)(await CallAsync(again, "Identity/get", new { accountId, ids = new[] { mine } }))["list"]!)[0]!;
        Assert.Equal("-- \nSig, Sales", (string)kept["textSignature"]!);
    }
}
