using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

// Issue 17: every channel that changes a user's scripts writes the same kind of audit entry.
public sealed partial class SieveEndToEndTests
{
    /// <summary>The entries of <paramref name="user"/>'s script changes, oldest first.</summary>
    private async Task<List<JsonElement>> SieveAuditAsync(string user) =>
        (await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action=sieve&target={Uri.EscapeDataString(user)}&limit=1000"))
            .GetProperty("items").EnumerateArray().ToList();

    private static JsonElement DetailOf(JsonElement entry) => JsonDocument.Parse(entry.GetProperty("detail").GetString()!).RootElement;

    /// <summary>Waits for the entry of <paramref name="action"/> on <paramref name="target"/> from <paramref name="channel"/>, and checks who, from where, with which result.</summary>
    private async Task AssertAuditedAsync(string user, string channel, string action, string target, string result)
    {
        JsonElement? found = null;
        await Eventually.Until(async () =>
        {
            found = (await SieveAuditAsync(user)).LastOrDefault(e => e.GetProperty("action").GetString() == action
                && e.GetProperty("target").GetString() == target && e.GetProperty("result").GetString() == result
                && DetailOf(e).GetProperty("channel").GetString() == channel);
            return found is not null;
        }, TimeSpan.FromSeconds(20), $"the {channel} {action} entry of {target} ({result})");
        var entry = found!.Value;
        Assert.Equal(user, entry.GetProperty("actor").GetString());
        Assert.Equal("user", entry.GetProperty("actorRole").GetString());
        Assert.Equal("127.0.0.1", entry.GetProperty("clientIp").GetString());
        Assert.Equal(user, DetailOf(entry).GetProperty("account").GetString());
    }

    [Fact]
    public async Task Script_changes_are_audited_alike_over_managesieve_jmap_and_the_user_api()
    {
        var user = "audra@" + D;
        await host.NewAccount("audra");

        // ManageSieve: each changing command, and a refused one.
        await using (var c = await LoggedInAsync(user))
        {
            Assert.StartsWith("OK", (await c.PutAsync("first", "keep;\r\n"))[^1]);
            Assert.StartsWith("OK", (await c.SendAsync("SETACTIVE \"first\""))[^1]);
            Assert.StartsWith("OK", (await c.SendAsync("RENAMESCRIPT \"first\" \"second\""))[^1]);
            Assert.StartsWith("OK", (await c.SendAsync("SETACTIVE \"\""))[^1]);
            Assert.StartsWith("OK", (await c.SendAsync("DELETESCRIPT \"second\""))[^1]);
            Assert.StartsWith("NO", (await c.SendAsync("DELETESCRIPT \"second\""))[^1]);
        }
        await AssertAuditedAsync(user, "managesieve", "sieve.put", $"{user} script=first", "ok");
        await AssertAuditedAsync(user, "managesieve", "sieve.activate", $"{user} script=first", "ok");
        await AssertAuditedAsync(user, "managesieve", "sieve.rename", $"{user} script=first", "ok");
        Assert.Equal("second", DetailOf((await SieveAuditAsync(user)).Single(e => e.GetProperty("action").GetString() == "sieve.rename")).GetProperty("newName").GetString());
        await AssertAuditedAsync(user, "managesieve", "sieve.deactivate", user, "ok");
        await AssertAuditedAsync(user, "managesieve", "sieve.delete", $"{user} script=second", "ok");
        await AssertAuditedAsync(user, "managesieve", "sieve.delete", $"{user} script=second", "failed");
        Assert.Equal(2, (await SieveAuditAsync(user)).Count(e => e.GetProperty("action").GetString() == "sieve.delete"));
        // A read changes nothing and is not recorded.
        await using (var c = await LoggedInAsync(user)) await c.SendAsync("LISTSCRIPTS");

        // JMAP VacationResponse/set stores the jmap-vacation script: the same entry, channel jmap.
        using var me = host.UserClient(user);
        var session = await me.GetFromJsonAsync<JsonElement>("/.well-known/jmap");
        var accountId = session.GetProperty("primaryAccounts").GetProperty("urn:ietf:params:jmap:vacationresponse").GetString();
        var set = await me.PostAsJsonAsync("/jmap/api", new JsonObject
        {
            ["using"] = new JsonArray("urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"),
            ["methodCalls"] = new JsonArray(new JsonArray("VacationResponse/set", new JsonObject
            {
                ["accountId"] = accountId,
                ["update"] = new JsonObject { ["singleton"] = new JsonObject { ["isEnabled"] = true, ["subject"] = "Away" } },
            }, "0")),
        });
        var answer = await set.Content.ReadAsStringAsync();
        Assert.True(set.IsSuccessStatusCode && answer.Contains("\"updated\"", StringComparison.Ordinal), answer);
        await AssertAuditedAsync(user, "jmap", "sieve.put", $"{user} script=jmap-vacation", "ok");

        // The user API: channel http, as before.
        Assert.True((await me.PutAsJsonAsync("/api/v1/me/sieve/third", new { script = "keep;\n" })).IsSuccessStatusCode);
        await AssertAuditedAsync(user, "http", "sieve.put", $"{user} script=third", "ok");

        // Exactly one entry per change: 6 over ManageSieve, 1 by JMAP, 1 through the API.
        Assert.Equal(8, (await SieveAuditAsync(user)).Count);
    }
}
