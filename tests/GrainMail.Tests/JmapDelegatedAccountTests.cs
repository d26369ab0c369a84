using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// A delegated mailbox as a second JMAP account (RFC 8620 2, isPersonal false): its identities,
/// submission from it under the SMTP sender rule, Email/copy between the user's two accounts
/// (RFC 8620 5.4, RFC 8621 4.7), and account deletion taking the account's JMAP rows with it.
/// </summary>
public sealed class JmapDelegatedAccountTests(JmapSubmissionHostFixture f) : IClassFixture<JmapSubmissionHostFixture>
{
    private const string Submission = "urn:ietf:params:jmap:submission";
    private static readonly string[] Using = [JmapClient.Core, JmapClient.Mail, Submission];

    private static string[] Ids(JsonNode? list) => ((JsonArray)list!).Select(x => (string)x!).ToArray();

    private static async Task<Dictionary<string, string>> RolesAsync(JmapClient c, string accountId)
    {
        var boxes = (await c.CallAsync("Mailbox/get", new { accountId })).Of("Mailbox/get");
        return ((JsonArray)boxes["list"]!).Where(m => m!["role"] is not null).ToDictionary(m => (string)m!["role"]!, m => (string)m!["id"]!);
    }

    /// <summary>An Email in the account's Drafts made by Email/set; its id.</summary>
    private static async Task<string> DraftAsync(JmapClient c, string accountId, string from, string to, string subject)
    {
        var roles = await RolesAsync(c, accountId);
        var email = new JsonObject
        {
            ["mailboxIds"] = new JsonObject { [roles["drafts"]] = true },
            ["keywords"] = new JsonObject { ["$draft"] = true, ["$seen"] = true },
            ["from"] = new JsonArray(new JsonObject { ["email"] = from }),
            ["to"] = new JsonArray(new JsonObject { ["email"] = to }),
            ["subject"] = subject,
            ["bodyValues"] = new JsonObject { ["1"] = new JsonObject { ["value"] = "Sent for the owner." } },
            ["textBody"] = new JsonArray(new JsonObject { ["partId"] = "1", ["type"] = "text/plain" }),
        };
        var set = (await c.CallAsync("Email/set", new JsonObject { ["accountId"] = accountId, ["create"] = new JsonObject { ["d"] = email } })).Of("Email/set");
        return (string)set["created"]!["d"]!["id"]!;
    }

    private static async Task<JsonObject?> EmailAsync(JmapClient c, string accountId, string id)
    {
        var got = (await c.CallAsync("Email/get", new { accountId, ids = new[] { id }, properties = new[] { "subject", "mailboxIds", "keywords" } })).Of("Email/get");
        return ((JsonArray)got["list"]!).FirstOrDefault() as JsonObject;
    }

    [Fact]
    public async Task A_delegate_sees_the_owners_mailbox_as_a_second_account_with_its_identities_and_sends_from_it()
    {
        var domain = await f.NewDomainAsync();
        var owner = await f.NewAccountAsync(domain, "owner");
        var assistant = await f.NewAccountAsync(domain, "assistant");
        var reader = await f.NewAccountAsync(domain, "reader");
        Assert.Equal(HttpStatusCode.Created, (await f.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{owner}/delegations", new { @delegate = assistant })).StatusCode);

        // The owner names and signs her identity; the assistant's session lists her account.
        using var ownerClient = await f.LoginAsync(owner);
        var ownerAccount = ownerClient.AccountId;
        var ownerIdentity = (string)(await ownerClient.CallAsync("Identity/get", new { accountId = ownerAccount }, Using)).Of("Identity/get")["list"]![0]!["id"]!;
        await ownerClient.CallAsync("Identity/set", new JsonObject
        {
            ["accountId"] = ownerAccount,
            ["update"] = new JsonObject { [ownerIdentity] = new JsonObject { ["name"] = "The Owner", ["textSignature"] = "-- \nOwner" } },
        }, Using);

        using var c = await f.LoginAsync(assistant);
        var mine = c.AccountId;
        var accounts = (JsonObject)c.Session["accounts"]!;
        Assert.Equal(new[] { mine, ownerAccount }.Order(StringComparer.Ordinal), accounts.Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.False((bool)accounts[ownerAccount]!["isPersonal"]!);
        Assert.True((bool)accounts[mine]!["isPersonal"]!);
        Assert.NotNull(accounts[ownerAccount]!["accountCapabilities"]![Submission]);
        Assert.Equal(mine, (string)c.Session["primaryAccounts"]![Submission]!);

        // Identity/get of the owner's account: her identities, her name and signature.
        var theirs = (JsonObject)(await c.CallAsync("Identity/get", new { accountId = ownerAccount }, Using)).Of("Identity/get")["list"]![0]!;
        Assert.Equal((ownerIdentity, owner, "The Owner", "-- \nOwner"), ((string)theirs["id"]!, (string)theirs["email"]!, (string)theirs["name"]!, (string)theirs["textSignature"]!));

        // Sending from her account with her identity arrives, from her.
        var draft = await DraftAsync(c, ownerAccount, owner, reader, "On behalf of the owner");
        var sent = (await c.CallAsync("EmailSubmission/set", new JsonObject
        {
            ["accountId"] = ownerAccount,
            ["create"] = new JsonObject { ["s"] = new JsonObject { ["identityId"] = ownerIdentity, ["emailId"] = draft } },
        }, Using)).Of("EmailSubmission/set");
        Assert.NotNull(sent["created"]?["s"]);
        var got = await Eventually.Value(() => f.InboxAsync(reader, "On behalf of the owner"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the owner's message at the reader");
        Assert.Equal(owner, got[0].From.Mailboxes.Single().Address);

        // The owner's account may not send as the assistant (the same rule as SMTP for a delegate acting for her).
        var asAssistant = await DraftAsync(c, ownerAccount, assistant, reader, "Not as the assistant");
        var refused = (await c.CallAsync("EmailSubmission/set", new JsonObject
        {
            ["accountId"] = ownerAccount,
            ["create"] = new JsonObject { ["s"] = new JsonObject { ["identityId"] = ownerIdentity, ["emailId"] = asAssistant } },
        }, Using)).Of("EmailSubmission/set");
        Assert.Equal("forbiddenFrom", (string)refused["notCreated"]!["s"]!["type"]!);
        // Nor can an identity of the owner's account be made for the assistant's address.
        var notMine = (await c.CallAsync("Identity/set", new JsonObject
        {
            ["accountId"] = ownerAccount,
            ["create"] = new JsonObject { ["i"] = new JsonObject { ["email"] = assistant } },
        }, Using)).Of("Identity/set");
        Assert.Equal("forbiddenFrom", (string)notMine["notCreated"]!["i"]!["type"]!);

        // The delegation ends: so does the second account.
        Assert.Equal(HttpStatusCode.NoContent, (await f.Host.Http.DeleteAsync($"/api/v1/accounts/{owner}/delegations/{assistant}")).StatusCode);
        Assert.Equal("accountNotFound", (await c.CallAsync("Identity/get", new { accountId = ownerAccount }, Using)).ErrorType());
        await c.LoadSessionAsync();
        Assert.Null(c.Session["accounts"]![ownerAccount]);
    }

    [Fact]
    public async Task Email_copy_between_the_users_own_and_a_delegated_account_keeps_the_message_and_refuses_duplicates()
    {
        var domain = await f.NewDomainAsync();
        var owner = await f.NewAccountAsync(domain, "boss");
        var assistant = await f.NewAccountAsync(domain, "helper");
        Assert.Equal(HttpStatusCode.Created, (await f.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{owner}/delegations", new { @delegate = assistant })).StatusCode);
        using var c = await f.LoginAsync(assistant);
        var mine = c.AccountId;
        var ownerAccount = ((JsonObject)c.Session["accounts"]!).Select(kv => kv.Key).Single(k => k != mine);
        var myRoles = await RolesAsync(c, mine);
        var ownerRoles = await RolesAsync(c, ownerAccount);

        var original = await DraftAsync(c, mine, assistant, owner, "Minutes for the boss");
        var ownerBefore = (string)(await c.CallAsync("Email/get", new { accountId = ownerAccount, ids = Array.Empty<string>() })).Of("Email/get")["state"]!;
        var copy = (await c.CallAsync("Email/copy", new JsonObject
        {
            ["fromAccountId"] = mine,
            ["accountId"] = ownerAccount,
            ["ifInState"] = ownerBefore,
            ["create"] = new JsonObject
            {
                ["c1"] = new JsonObject { ["id"] = original, ["mailboxIds"] = new JsonObject { [ownerRoles["inbox"]] = true } },
                ["c2"] = new JsonObject { ["id"] = "Mnope", ["mailboxIds"] = new JsonObject { [ownerRoles["inbox"]] = true } },
                ["c3"] = new JsonObject { ["id"] = original, ["mailboxIds"] = new JsonObject { ["Xnope"] = true } },
                ["c4"] = new JsonObject { ["id"] = original, ["mailboxIds"] = new JsonObject { [ownerRoles["inbox"]] = true }, ["subject"] = "changed" },
            },
        })).Of("Email/copy");
        Assert.Equal((mine, ownerAccount, ownerBefore), ((string)copy["fromAccountId"]!, (string)copy["accountId"]!, (string)copy["oldState"]!));
        Assert.NotEqual(ownerBefore, (string)copy["newState"]!);
        var copied = (JsonObject)copy["created"]!["c1"]!;
        var copiedId = (string)copied["id"]!;
        Assert.NotNull(copied["blobId"]);
        Assert.NotNull(copied["threadId"]);
        Assert.Equal("notFound", (string)copy["notCreated"]!["c2"]!["type"]!);
        Assert.Equal("invalidProperties", (string)copy["notCreated"]!["c3"]!["type"]!);
        Assert.Equal(["subject"], Ids(copy["notCreated"]!["c4"]!["properties"]));

        // In the owner's INBOX, with the original's keywords; the original is still in Drafts.
        var there = (await EmailAsync(c, ownerAccount, copiedId))!;
        Assert.Equal("Minutes for the boss", (string)there["subject"]!);
        Assert.Equal([ownerRoles["inbox"]], ((JsonObject)there["mailboxIds"]!).Select(kv => kv.Key));
        Assert.True(((JsonObject)there["keywords"]!).ContainsKey("$seen"));
        Assert.NotNull(await EmailAsync(c, mine, original));

        // The same message again: alreadyExists naming the copy; then moved for real with onSuccessDestroyOriginal.
        var again = (await c.CallAsync("Email/copy", new JsonObject
        {
            ["fromAccountId"] = mine,
            ["accountId"] = ownerAccount,
            ["create"] = new JsonObject { ["c1"] = new JsonObject { ["id"] = original, ["mailboxIds"] = new JsonObject { [ownerRoles["inbox"]] = true } } },
        })).Of("Email/copy");
        Assert.Equal("alreadyExists", (string)again["notCreated"]!["c1"]!["type"]!);
        Assert.Equal(copiedId, (string)again["notCreated"]!["c1"]!["existingId"]!);

        var back = await DraftAsync(c, ownerAccount, owner, assistant, "Reply for the helper");
        var moved = await c.CallAsync("Email/copy", new JsonObject
        {
            ["fromAccountId"] = ownerAccount,
            ["accountId"] = mine,
            ["onSuccessDestroyOriginal"] = true,
            ["create"] = new JsonObject
            {
                ["m"] = new JsonObject { ["id"] = back, ["mailboxIds"] = new JsonObject { [myRoles["inbox"]] = true }, ["keywords"] = new JsonObject { ["$flagged"] = true } },
            },
        }, JmapClient.Core, JmapClient.Mail);
        var movedId = (string)moved.Of("Email/copy")["created"]!["m"]!["id"]!;
        // The implicit Email/set on the source follows under the same call id (RFC 8620 5.4).
        Assert.Equal([back], Ids(moved.Of("Email/set")["destroyed"]));
        Assert.Null(await EmailAsync(c, ownerAccount, back));
        var mineNow = (await EmailAsync(c, mine, movedId))!;
        Assert.Equal(["$flagged"], ((JsonObject)mineNow["keywords"]!).Select(kv => kv.Key));

        // Errors of the method itself.
        Assert.Equal("fromAccountNotFound", (await c.CallAsync("Email/copy", new { fromAccountId = "Anope", accountId = ownerAccount, create = new { } })).ErrorType());
        Assert.Equal("accountNotFound", (await c.CallAsync("Email/copy", new { fromAccountId = mine, accountId = "Anope", create = new { } })).ErrorType());
        Assert.Equal("invalidArguments", (await c.CallAsync("Email/copy", new { fromAccountId = mine, accountId = mine, create = new { } })).ErrorType());
        Assert.Equal("stateMismatch", (await c.CallAsync("Email/copy", new { fromAccountId = mine, accountId = ownerAccount, ifFromInState = "nope", create = new { } })).ErrorType());
        Assert.Equal("stateMismatch", (await c.CallAsync("Email/copy", new { fromAccountId = mine, accountId = ownerAccount, ifInState = ownerBefore, create = new { } })).ErrorType());

        // A user without a delegation reaches only his own account.
        using var ownerClient = await f.LoginAsync(owner);
        Assert.Single((JsonObject)ownerClient.Session["accounts"]!);
        Assert.Equal("fromAccountNotFound", (await ownerClient.CallAsync("Email/copy", new { fromAccountId = mine, accountId = ownerAccount, create = new { } })).ErrorType());
    }

    [Fact]
    public async Task Deleting_an_account_removes_its_identities_and_submissions()
    {
        var domain = await f.NewDomainAsync();
        var leaver = await f.NewAccountAsync(domain, "leaver");
        var peer = await f.NewAccountAsync(domain, "peer");
        using (var c = await f.LoginAsync(leaver))
        {
            var identity = (string)(await c.CallAsync("Identity/get", new { accountId = c.AccountId }, Using)).Of("Identity/get")["list"]![0]!["id"]!;
            await c.CallAsync("Identity/set", new JsonObject
            {
                ["accountId"] = c.AccountId,
                ["update"] = new JsonObject { [identity] = new JsonObject { ["textSignature"] = "old signature" } },
            }, Using);
            var draft = await DraftAsync(c, c.AccountId, leaver, peer, "Before leaving");
            var sent = (await c.CallAsync("EmailSubmission/set", new JsonObject
            {
                ["accountId"] = c.AccountId,
                ["create"] = new JsonObject { ["s"] = new JsonObject { ["identityId"] = identity, ["emailId"] = draft } },
            }, Using)).Of("EmailSubmission/set");
            Assert.NotNull(sent["created"]?["s"]);
        }
        Assert.Equal(HttpStatusCode.NoContent, (await f.Host.Http.DeleteAsync($"/api/v1/accounts/{leaver}")).StatusCode);

        // A new account of the same name starts with nothing of the old one's.
        await f.NewAccountAsync(domain, "leaver");
        using var fresh = await f.LoginAsync(leaver);
        var identities = (JsonArray)(await fresh.CallAsync("Identity/get", new { accountId = fresh.AccountId }, Using)).Of("Identity/get")["list"]!;
        Assert.Equal("", (string)Assert.Single(identities)!["textSignature"]!);
        var submissions = (await fresh.CallAsync("EmailSubmission/get", new { accountId = fresh.AccountId }, Using)).Of("EmailSubmission/get");
        Assert.Empty((JsonArray)submissions["list"]!);
    }

    private static async Task<string> EmailStateAsync(JmapClient c, string accountId) =>
        (string)(await c.CallAsync("Email/get", new { accountId, ids = Array.Empty<string>() })).Of("Email/get")["state"]!;

    [Fact]
    public async Task Changes_in_a_delegated_mailbox_are_pushed_for_its_account_until_the_delegation_ends()
    {
        var domain = await f.NewDomainAsync();
        var owner = await f.NewAccountAsync(domain, "owner");
        var assistant = await f.NewAccountAsync(domain, "assistant");
        Assert.Equal(HttpStatusCode.Created, (await f.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{owner}/delegations", new { @delegate = assistant })).StatusCode);
        using var c = await f.LoginAsync(assistant);
        var ownerAccount = ((JsonObject)c.Session["accounts"]!).Single(a => !(bool)a.Value!["isPersonal"]!).Key;

        await using var stream = await EventStream.OpenAsync(c.Http, "/jmap/eventsource?types=*&closeafter=no&ping=0");
        using var ws = new ClientWebSocket();
        ws.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        ws.Options.AddSubProtocol("jmap");
        ws.Options.SetRequestHeader("Authorization", c.Http.DefaultRequestHeaders.Authorization!.ToString());
        await ws.ConnectAsync(new Uri($"wss://127.0.0.1:{f.HttpsPort}/jmap/ws"), CancellationToken.None);
        await ws.SendAsync(Encoding.UTF8.GetBytes("""{"@type":"WebSocketPushEnable","dataTypes":null}"""), WebSocketMessageType.Text, true, CancellationToken.None);

        // Mail for the owner: both push channels name the owner's account (RFC 8620 7.1), with Email/get's state.
        await TestMail.SendToMxAsync(f.Host.Listening.Mx, owner, "for the owner");
        var pushed = (string)JsonNode.Parse((await stream.NextAsync("state", TimeSpan.FromSeconds(30))).Data)!["changed"]![ownerAccount]!["Email"]!;
        var now = await EmailStateAsync(c, ownerAccount);
        for (var i = 0; i < 3 && pushed != now; i++)
        {
            var next = JsonNode.Parse((await stream.NextAsync("state", TimeSpan.FromSeconds(30))).Data)!["changed"]![ownerAccount];
            if (next?["Email"] is { } email) pushed = (string)email!;
            now = await EmailStateAsync(c, ownerAccount);
        }
        Assert.Equal(now, pushed);
        string? overSocket = null;
        while (overSocket != now)
        {
            var change = await JmapPushTests.ReceiveAsync(ws);
            Assert.Equal("StateChange", (string)change["@type"]!);
            Assert.False(string.IsNullOrEmpty((string?)change["pushState"]));
            if (change["changed"]![ownerAccount]?["Email"] is { } email) overSocket = (string)email!;
        }

        // The delegation ends: the owner's next mail is not pushed; the assistant's own still is, alone.
        Assert.Equal(HttpStatusCode.NoContent, (await f.Host.Http.DeleteAsync($"/api/v1/accounts/{owner}/delegations/{assistant}")).StatusCode);
        await TestMail.SendToMxAsync(f.Host.Listening.Mx, owner, "after the delegation");
        await Eventually.Until(async () => (await f.InboxAsync(owner, "after the delegation")).Count == 1, TimeSpan.FromSeconds(30), "the owner's second mail stored");
        await TestMail.SendToMxAsync(f.Host.Listening.Mx, assistant, "for the assistant");
        while (true)
        {
            var e = JsonNode.Parse((await stream.NextAsync("state", TimeSpan.FromSeconds(30))).Data)!;
            Assert.Null(e["changed"]![ownerAccount]);
            if (e["changed"]![c.AccountId] is not null) break;
        }
        while (true)
        {
            var m = await JmapPushTests.ReceiveAsync(ws);
            Assert.Null(m["changed"]![ownerAccount]);
            if (m["changed"]![c.AccountId] is not null) break;
        }
    }
}
