using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>A host with HTTPS (JMAP), IMAP and SMTP on its own database, which a test may restart.</summary>
public class JmapSubmissionHostFixture : IAsyncLifetime
{
    public const string Password = JmapHostFixture.Password;

    private string _db = "";
    private string _dir = "";
    private HostProcess.Ports _ports = null!;

    public HostProcess Host { get; private set; } = null!;

    /// <summary>The host's database, for what no API shows (the list stream's rows, a list's dropped posts).</summary>
    public string ConnectionString => _db;

    public int HttpsPort { get; private set; }

    /// <summary>The host's resolver: <see cref="NoMail"/> has a null MX (RFC 7505), so mail to it bounces at once; other names are NXDOMAIN.</summary>
    public TestDnsServer Dns { get; } = new();

    public const string NoMail = "nomail.test";

    public virtual async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        _db = await pg.NewDatabaseAsync("jmapsub");
        HttpsPort = HostProcess.FreePort();
        _dir = Path.Combine(pg.Root, $"jmap-sub-{Guid.NewGuid():N}"[..20]);
        _ports = HostProcess.Ports.Free();
        Dns.Mx[NoMail] = [(0, ".")];
        await StartAsync();
    }

    private async Task StartAsync() =>
        Host = await HostProcess.StartAsync(_db, _dir, _ports, extraEnvironment: new Dictionary<string, string>
        {
            ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(),
            ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
            // A small hourly budget, so that a test can reach it: no other test sends more than three recipients outside.
            ["GrainMail__OutboundAccountRecipientsPerHour"] = AccountRecipientsPerHour.ToString(),
        }.Concat(ExtraEnvironment).ToDictionary());

    /// <summary>What a derived fixture adds to the host's environment (a scanner, say).</summary>
    protected virtual IReadOnlyDictionary<string, string> ExtraEnvironment => new Dictionary<string, string>();

    /// <summary>Each account's hourly budget of recipients outside (the default is 1,000).</summary>
    public const int AccountRecipientsPerHour = 4;

    /// <summary>Stops the host (SIGTERM) and starts it again on the same database: gateways keep nothing in memory across.</summary>
    public async Task RestartAsync()
    {
        await Host.DisposeAsync();
        await StartAsync();
    }

    public virtual async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        Dns.Dispose();
    }

    public async Task<string> NewDomainAsync(long? maxMessageBytes = null)
    {
        var domain = $"js{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Host.Http.PostAsJsonAsync("/api/v1/domains", new { name = domain, maxMessageBytes });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return domain;
    }

    public async Task<string> NewAccountAsync(string domain, string localPart)
    {
        var r = await Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart, password = Password, displayName = localPart });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return $"{localPart}@{domain}";
    }

    public HttpClient Https(AuthenticationHeaderValue? auth = null)
    {
        var handler = new HttpClientHandler { AllowAutoRedirect = false, ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        if (auth is not null) http.DefaultRequestHeaders.Authorization = auth;
        return http;
    }

    public async Task<JmapClient> LoginAsync(string address)
    {
        using var anon = Https();
        var r = await anon.PostAsJsonAsync("/api/v1/me/sessions", new { address, password = Password });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var token = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        var client = new JmapClient(Https(new AuthenticationHeaderValue("Bearer", token)));
        await client.LoadSessionAsync();
        return client;
    }

    public async Task<ImapClient> ImapAsync(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, Password);
        return c;
    }

    /// <summary>The messages of a user's INBOX whose subject contains <paramref name="subject"/>.</summary>
    public async Task<List<MimeMessage>> InboxAsync(string user, string subject)
    {
        using var imap = await ImapAsync(user);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var list = new List<MimeMessage>();
        foreach (var id in await imap.Inbox.SearchAsync(SearchQuery.SubjectContains(subject))) list.Add(await imap.Inbox.GetMessageAsync(id));
        await imap.DisconnectAsync(true);
        return list;
    }
}

/// <summary>
/// EmailSubmission (RFC 8621 7) and VacationResponse (RFC 8621 8) over real HTTPS: every method and
/// set error, and end to end — the message goes the SMTP submission's way (IMAP delivery, the
/// outbound queue, approval rules, send-as), and the vacation reply is the delivery's Sieve vacation.
/// </summary>
public sealed partial class JmapSubmissionTests(JmapSubmissionHostFixture f) : IClassFixture<JmapSubmissionHostFixture>
{
    private const string Submission = "urn:ietf:params:jmap:submission";
    private const string Vacation = "urn:ietf:params:jmap:vacationresponse";
    private static readonly string[] Using = [JmapClient.Core, JmapClient.Mail, Submission];

    internal static async Task<Dictionary<string, string>> RolesAsync(JmapClient c)
    {
        var boxes = (await c.CallAsync("Mailbox/get", new { accountId = c.AccountId })).Of("Mailbox/get");
        return ((JsonArray)boxes["list"]!).Where(m => m!["role"] is not null).ToDictionary(m => (string)m!["role"]!, m => (string)m!["id"]!);
    }

    internal static async Task<string> IdentityAsync(JmapClient c, string email)
    {
        var list = (JsonArray)(await c.CallAsync("Identity/get", new { accountId = c.AccountId }, Using)).Of("Identity/get")["list"]!;
        return (string)list.First(i => (string)i!["email"]! == email)!["id"]!;
    }

    /// <summary>A draft in Drafts, created by Email/set; returns its id.</summary>
    internal static async Task<string> DraftAsync(JmapClient c, string from, string[] to, string subject, string[]? bcc = null, string? sender = null,
        JsonObject? headers = null)
    {
        var roles = await RolesAsync(c);
        var email = new JsonObject
        {
            ["mailboxIds"] = new JsonObject { [roles["drafts"]] = true },
            ["keywords"] = new JsonObject { ["$draft"] = true, ["$seen"] = true },
            ["from"] = new JsonArray(from.Split(',').Select(a => (JsonNode)new JsonObject { ["email"] = a }).ToArray()),
            ["to"] = new JsonArray(to.Select(a => (JsonNode)new JsonObject { ["email"] = a }).ToArray()),
            ["subject"] = subject,
            ["bodyValues"] = new JsonObject { ["1"] = new JsonObject { ["value"] = "Hello from JMAP." } },
            ["textBody"] = new JsonArray(new JsonObject { ["partId"] = "1", ["type"] = "text/plain" }),
        };
        if (bcc is not null) email["bcc"] = new JsonArray(bcc.Select(a => (JsonNode)new JsonObject { ["email"] = a }).ToArray());
        if (sender is not null) email["sender"] = new JsonArray(new JsonObject { ["email"] = sender });
        foreach (var (k, v) in headers ?? []) email[k] = v?.DeepClone();
        var set = (await c.CallAsync("Email/set", new JsonObject { ["accountId"] = c.AccountId, ["create"] = new JsonObject { ["d"] = email } })).Of("Email/set");
        return (string)set["created"]!["d"]!["id"]!;
    }

    internal static Task<JmapResponse> SubmitAsync(JmapClient c, string identityId, string emailId, JsonObject? envelope = null, JsonObject? extra = null)
    {
        var create = new JsonObject { ["identityId"] = identityId, ["emailId"] = emailId };
        if (envelope is not null) create["envelope"] = envelope;
        var args = new JsonObject { ["accountId"] = c.AccountId, ["create"] = new JsonObject { ["s"] = create } };
        foreach (var (k, v) in extra ?? []) args[k] = v?.DeepClone();
        return c.CallAsync("EmailSubmission/set", args, Using);
    }

    internal static JsonObject? NotCreated(JmapResponse r) => r.Of("EmailSubmission/set")["notCreated"]?["s"] as JsonObject;

    internal static JsonObject Envelope(string from, params string[] to) => new()
    {
        ["mailFrom"] = new JsonObject { ["email"] = from },
        ["rcptTo"] = new JsonArray(to.Select(a => (JsonNode)new JsonObject { ["email"] = a }).ToArray()),
    };

    [Fact]
    public async Task A_submission_arrives_over_imap_files_the_draft_in_sent_and_is_kept_across_a_restart()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var carol = await f.NewAccountAsync(domain, "carol");
        using var c = await f.LoginAsync(alice);
        var caps = c.Session["accounts"]![c.AccountId]!["accountCapabilities"]![Submission]!;
        Assert.Equal(0, (int)caps["maxDelayedSend"]!);
        Assert.NotNull(c.Session["capabilities"]![Vacation]);

        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [bob], "Quarterly numbers", bcc: [carol]);
        var roles = await RolesAsync(c);
        var before = (string)(await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId, ids = Array.Empty<string>() }, Using)).Of("EmailSubmission/get")["state"]!;
        var r = await SubmitAsync(c, identity, draft, extra: new JsonObject
        {
            ["onSuccessUpdateEmail"] = new JsonObject
            {
                ["#s"] = new JsonObject { [$"mailboxIds/{roles["drafts"]}"] = null, [$"mailboxIds/{roles["sent"]}"] = true, ["keywords/$draft"] = null },
            },
        });
        var created = (JsonObject)r.Of("EmailSubmission/set")["created"]!["s"]!;
        var id = (string)created["id"]!;
        // RFC 8621 7: nothing has reached a recipient yet when the submission is made.
        Assert.Equal("pending", (string)created["undoStatus"]!);
        Assert.Equal("queued", (string)created["deliveryStatus"]![bob]!["delivered"]!);
        Assert.Equal("queued", (string)created["deliveryStatus"]![carol]!["delivered"]!);
        // The implicit Email/set follows under the same call id (RFC 8621 7.5).
        Assert.Equal([draft], ((JsonObject)r.Of("Email/set")["updated"]!).Select(kv => kv.Key));

        var moved = (JsonObject)((JsonArray)(await c.CallAsync("Email/get", new { accountId = c.AccountId, ids = new[] { draft }, properties = new[] { "mailboxIds", "keywords" } })).Of("Email/get")["list"]!)[0]!;
        Assert.Equal([roles["sent"]], ((JsonObject)moved["mailboxIds"]!).Select(kv => kv.Key));
        Assert.False(((JsonObject)moved["keywords"]!).ContainsKey("$draft"));

        // Both recipients have it over IMAP; the blind one is not named in the copy anybody gets.
        var got = await Eventually.Value(() => f.InboxAsync(bob, "Quarterly numbers"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in bob's INBOX");
        Assert.Equal(alice, got[0].From.Mailboxes.Single().Address);
        Assert.Empty(got[0].Bcc);
        Assert.Contains("authenticated as " + alice, got[0].Headers[HeaderId.Received]);
        var blind = await Eventually.Value(() => f.InboxAsync(carol, "Quarterly numbers"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in carol's INBOX");
        Assert.Empty(blind[0].Bcc);

        // get, changes, query and queryChanges.
        var list = (JsonArray)(await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId }, Using)).Of("EmailSubmission/get")["list"]!;
        var one = (JsonObject)Assert.Single(list)!;
        Assert.Equal((id, identity, draft), ((string)one["id"]!, (string)one["identityId"]!, (string)one["emailId"]!));
        Assert.Null(one["envelope"]);
        var changes = (await c.CallAsync("EmailSubmission/changes", new { accountId = c.AccountId, sinceState = before }, Using)).Of("EmailSubmission/changes");
        Assert.Equal([id], ((JsonArray)changes["created"]!).Select(x => (string)x!));
        var query = (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, filter = new { emailIds = new[] { draft }, undoStatus = "final" }, calculateTotal = true }, Using)).Of("EmailSubmission/query");
        Assert.Equal([id], ((JsonArray)query["ids"]!).Select(x => (string)x!));
        Assert.True((bool)query["canCalculateChanges"]!);
        var qc = (await c.CallAsync("EmailSubmission/queryChanges", new { accountId = c.AccountId, sinceQueryState = before }, Using)).Of("EmailSubmission/queryChanges");
        Assert.Equal(id, (string)qc["added"]![0]!["id"]!);
        Assert.Equal(0, (int)qc["added"]![0]!["index"]!);
        var none = (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, filter = new { before = "2000-01-01T00:00:00Z" } }, Using)).Of("EmailSubmission/query");
        Assert.Empty((JsonArray)none["ids"]!);

        // A cancel is too late: the message left at once. The record can go (the message stays sent).
        var cancel = (await c.CallAsync("EmailSubmission/set", new JsonObject { ["accountId"] = c.AccountId, ["update"] = new JsonObject { [id] = new JsonObject { ["undoStatus"] = "canceled" } } }, Using)).Of("EmailSubmission/set");
        Assert.Equal("cannotUnsend", (string)cancel["notUpdated"]![id]!["type"]!);

        // The gateway keeps nothing: after a restart the submission is still there.
        var state = (string)changes["newState"]!;
        await f.RestartAsync();
        using var again = await f.LoginAsync(alice);
        var after = (await again.CallAsync("EmailSubmission/get", new { accountId = again.AccountId, ids = new[] { id } }, Using)).Of("EmailSubmission/get");
        Assert.Equal(state, (string)after["state"]!);
        Assert.Equal(id, (string)after["list"]![0]!["id"]!);
        var destroyed = (await again.CallAsync("EmailSubmission/set", new { accountId = again.AccountId, destroy = new[] { id, "Snope" } }, Using)).Of("EmailSubmission/set");
        Assert.Equal([id], ((JsonArray)destroyed["destroyed"]!).Select(x => (string)x!));
        Assert.Equal("notFound", (string)destroyed["notDestroyed"]!["Snope"]!["type"]!);
        var gone = (await again.CallAsync("EmailSubmission/changes", new { accountId = again.AccountId, sinceState = state }, Using)).Of("EmailSubmission/changes");
        Assert.Equal([id], ((JsonArray)gone["destroyed"]!).Select(x => (string)x!));
        Assert.Equal("cannotCalculateChanges", (await again.CallAsync("EmailSubmission/changes", new { accountId = again.AccountId, sinceState = "999" }, Using)).ErrorType());
    }

    [Fact]
    public async Task A_given_envelope_decides_who_gets_it_and_an_external_recipient_waits_in_the_outbound_queue()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var dave = await f.NewAccountAsync(domain, "dave");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var outside = $"partner@far{Guid.NewGuid():N}"[..24] + ".example";
        var draft = await DraftAsync(c, alice, [bob], "Envelope only");
        var r = await SubmitAsync(c, identity, draft, Envelope(alice, dave, outside));
        var created = (JsonObject)r.Of("EmailSubmission/set")["created"]!["s"]!;
        Assert.Equal("queued", (string)created["deliveryStatus"]![outside]!["delivered"]!);

        // The envelope, not the header, decides: dave has it, bob (only in To:) does not.
        await Eventually.Value(() => f.InboxAsync(dave, "Envelope only"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in dave's INBOX");
        Assert.Empty(await f.InboxAsync(bob, "Envelope only"));
        var outDomain = outside.Split('@')[1];
        // Handed to the outbound route: still queued, or already tried (its test domain does not resolve, so
        // the route may have tried it and taken it out of the queue before we look; the sent log keeps the attempt).
        await Eventually.Until(async () =>
        {
            var queued = await f.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/outbound");
            if (queued.EnumerateArray().Any(d => d.GetProperty("destination").GetString() == outDomain)) return true;
            var tried = await f.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{alice}/sent-log");
            return tried.EnumerateArray().Any(a => a.GetProperty("recipient").GetString() == outside);
        }, TimeSpan.FromSeconds(30), "the external recipient's message in the outbound queue or its sent log");
        var got = (JsonObject)((JsonArray)(await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId }, Using)).Of("EmailSubmission/get")["list"]!).Single()!;
        Assert.Equal([dave, outside], ((JsonArray)got["envelope"]!["rcptTo"]!).Select(a => (string)a!["email"]!));
    }

    [Fact]
    public async Task Every_refusal_of_the_submission_path_is_its_rfc_set_error()
    {
        var domain = await f.NewDomainAsync();
        var small = await f.NewDomainAsync(maxMessageBytes: 300);
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var tiny = await f.NewAccountAsync(small, "tiny");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [bob], "Refusals");

        async Task<string> Refused(JsonObject? envelope, string? emailId = null, string? identityId = null)
        {
            var r = await SubmitAsync(c, identityId ?? identity, emailId ?? draft, envelope);
            var e = NotCreated(r);
            Assert.True(e is not null, r.Body.ToJsonString());
            return (string)e!["type"]!;
        }
        Assert.Equal("forbiddenMailFrom", await Refused(Envelope($"ceo@{domain}", bob)));
        Assert.Equal("noRecipients", await Refused(Envelope(alice)));
        var many = await SubmitAsync(c, identity, draft, Envelope(alice, Enumerable.Range(0, 101).Select(i => $"r{i}@{domain}").ToArray()));
        Assert.Equal(("tooManyRecipients", 100), ((string)NotCreated(many)!["type"]!, (int)NotCreated(many)!["maxRecipients"]!));
        var unknown = await SubmitAsync(c, identity, draft, Envelope(alice, bob, $"nobody@{domain}"));
        Assert.Equal("invalidRecipients", (string)NotCreated(unknown)!["type"]!);
        Assert.Equal([$"nobody@{domain}"], ((JsonArray)NotCreated(unknown)!["invalidRecipients"]!).Select(a => (string)a!));
        var big = await SubmitAsync(c, identity, draft, Envelope(alice, tiny));
        Assert.Equal(("tooLarge", 300), ((string)NotCreated(big)!["type"]!, (int)NotCreated(big)!["maxSize"]!));
        Assert.Equal("invalidProperties", await Refused(null, identityId: "Inope"));
        Assert.Equal("invalidProperties", await Refused(null, emailId: "Mnope"));
        Assert.Equal("invalidEmail", await Refused(null, await DraftAsync(c, $"{alice},{bob}", [bob], "Two authors")));
        Assert.Equal("forbiddenFrom", await Refused(null, await DraftAsync(c, $"ceo@{domain}", [bob], "Not mine")));

        // May not send outside the domain (the directory's flag): forbiddenToSend, as 550 5.7.1 on port 587.
        Assert.Equal(HttpStatusCode.OK, (await f.Host.Http.PatchAsJsonAsync($"/api/v1/accounts/{alice}", new { maySendExternal = false })).StatusCode);
        Assert.Equal("forbiddenToSend", await Refused(Envelope(alice, "someone@elsewhere.example")));
        Assert.Equal(HttpStatusCode.OK, (await f.Host.Http.PatchAsJsonAsync($"/api/v1/accounts/{alice}", new { maySendExternal = true })).StatusCode);

        // Nothing of the above was sent or recorded.
        Assert.Empty(await f.InboxAsync(bob, "Refusals"));
        var got = (await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId }, Using)).Of("EmailSubmission/get");
        Assert.Empty((JsonArray)got["list"]!);

        // Method-level errors of the standard methods.
        var state = (string)got["state"]!;
        Assert.Equal("stateMismatch", (await c.CallAsync("EmailSubmission/set", new { accountId = c.AccountId, ifInState = "41" }, Using)).ErrorType());
        Assert.Equal("cannotCalculateChanges", (await c.CallAsync("EmailSubmission/queryChanges", new { accountId = c.AccountId, sinceQueryState = "x" }, Using)).ErrorType());
        Assert.Equal("anchorNotFound", (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, anchor = "Snope" }, Using)).ErrorType());
        Assert.Equal("unsupportedSort", (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, sort = new[] { new { property = "size" } } }, Using)).ErrorType());
        Assert.Equal("unsupportedFilter", (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, filter = new { subject = "x" } }, Using)).ErrorType());
        Assert.Equal("invalidArguments", (await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId, properties = new[] { "colour" } }, Using)).ErrorType());
        Assert.Equal("unknownMethod", (await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId })).ErrorType());
        var update = (await c.CallAsync("EmailSubmission/set", new JsonObject { ["accountId"] = c.AccountId, ["ifInState"] = state, ["update"] = new JsonObject { ["Snope"] = new JsonObject() } }, Using)).Of("EmailSubmission/set");
        Assert.Equal("notFound", (string)update["notUpdated"]!["Snope"]!["type"]!);
    }

    [Fact]
    public async Task An_approval_rule_holds_a_jmap_submission_and_the_send_log_says_pending()
    {
        var domain = await f.NewDomainAsync();
        var reviewer = await f.NewAccountAsync(domain, "reviewer");
        var author = await f.NewAccountAsync(domain, "author");
        var bob = await f.NewAccountAsync(domain, "bob");
        var rule = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/approval-rules", new
        {
            name = "contracts need a second look",
            senders = new[] { author },
            keywords = new[] { "contract" },
            reviewer,
            expireAfterSeconds = 3600,
            expiryReason = "no decision",
        });
        Assert.True(rule.IsSuccessStatusCode, await rule.Content.ReadAsStringAsync());
        using var c = await f.LoginAsync(author);
        var r = await SubmitAsync(c, await IdentityAsync(c, author), await DraftAsync(c, author, [bob], "The contract draft"));
        var created = (JsonObject)r.Of("EmailSubmission/set")["created"]!["s"]!;
        Assert.StartsWith("250 2.0.0 Held for approval", (string)created["deliveryStatus"]![bob]!["smtpReply"]!);

        await Eventually.Value(() => f.InboxAsync(reviewer, "Approval needed"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the reviewer's notice");
        var log = await f.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{author}/sent-log");
        Assert.Equal("pending approval", log[0].GetProperty("outcome").GetString());
        Assert.Empty(await f.InboxAsync(bob, "The contract draft"));
    }

    [Fact]
    public async Task Send_as_an_alias_works_and_as_a_stranger_is_forbidden()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        await f.NewAccountAsync(domain, "zed");
        Assert.Equal(HttpStatusCode.Created, (await f.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{alice}/aliases", new { alias = "sales" })).StatusCode);
        using var c = await f.LoginAsync(alice);
        var sales = $"sales@{domain}";
        var r = await SubmitAsync(c, await IdentityAsync(c, sales), await DraftAsync(c, sales, [bob], "From the sales desk"));
        Assert.NotNull(r.Of("EmailSubmission/set")["created"]?["s"]);
        var got = await Eventually.Value(() => f.InboxAsync(bob, "From the sales desk"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the alias's message");
        Assert.Equal(sales, got[0].From.Mailboxes.Single().Address);
        Assert.Contains($"<{sales}>", got[0].Headers[HeaderId.ReturnPath]);

        // Another account's address: in From: it is forbiddenFrom, in Sender: too, as MAIL FROM forbiddenMailFrom.
        var stranger = $"zed@{domain}";
        Assert.Equal("forbiddenFrom", (string)NotCreated(await SubmitAsync(c, await IdentityAsync(c, alice), await DraftAsync(c, stranger, [bob], "Impersonation")))!["type"]!);
        Assert.Equal("forbiddenFrom", (string)NotCreated(await SubmitAsync(c, await IdentityAsync(c, alice), await DraftAsync(c, alice, [bob], "Sender field", sender: stranger)))!["type"]!);
        Assert.Equal("forbiddenMailFrom", (string)NotCreated(await SubmitAsync(c, await IdentityAsync(c, alice), await DraftAsync(c, alice, [bob], "Envelope"), Envelope(stranger, bob)))!["type"]!);
        Assert.Empty(await f.InboxAsync(bob, "Impersonation"));
    }

    [Fact]
    public async Task A_vacation_set_by_jmap_answers_smtp_mail_once_and_is_a_sieve_script_beside_the_users_own()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        string[] vacationUsing = [JmapClient.Core, Vacation];

        var initial = (await c.CallAsync("VacationResponse/get", new { accountId = c.AccountId }, vacationUsing)).Of("VacationResponse/get");
        var off = (JsonObject)((JsonArray)initial["list"]!).Single()!;
        Assert.Equal(("singleton", false), ((string)off["id"]!, (bool)off["isEnabled"]!));

        // Alice's own filter files "report" mail into a folder; it must keep doing so.
        var own = await c.Http.PutAsJsonAsync("/api/v1/me/sieve/mine", new { script = "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"report\" { fileinto :create \"Reports\"; }\n" });
        Assert.True(own.IsSuccessStatusCode, await own.Content.ReadAsStringAsync());
        Assert.True((await c.Http.PostAsync("/api/v1/me/sieve/mine/activate", null)).IsSuccessStatusCode);

        var set = (await c.CallAsync("VacationResponse/set", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["ifInState"] = (string)initial["state"]!,
            ["update"] = new JsonObject
            {
                ["singleton"] = new JsonObject
                {
                    ["isEnabled"] = true,
                    ["fromDate"] = "2020-01-01T00:00:00Z",
                    ["subject"] = "Out of office",
                    ["textBody"] = "I am away until Monday.",
                },
            },
        }, vacationUsing)).Of("VacationResponse/set");
        Assert.True(((JsonObject)set["updated"]!).ContainsKey("singleton"), set.ToJsonString());
        Assert.NotEqual((string)initial["state"]!, (string)set["newState"]!);
        var on = (JsonObject)((JsonArray)(await c.CallAsync("VacationResponse/get", new { accountId = c.AccountId, ids = new[] { "singleton" } }, vacationUsing)).Of("VacationResponse/get")["list"]!)[0]!;
        Assert.Equal((true, "Out of office", "2020-01-01T00:00:00Z"), ((bool)on["isEnabled"]!, (string)on["subject"]!, (string)on["fromDate"]!));
        Assert.Null(on["toDate"]);

        // The user API (and so ManageSieve) shows it as a script of its own; the user's script stays active.
        var scripts = await c.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/sieve");
        var byName = scripts.EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("active").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { ["jmap-vacation"] = false, ["mine"] = true }, byName);
        var text = (await c.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/sieve/jmap-vacation")).GetProperty("script").GetString()!;
        Assert.Contains("vacation :days 7 :subject \"Out of office\"", text);

        // Two messages over SMTP: one reply; and the user's filter still files the second.
        await TestMail.SubmitAsync(f.Host.Listening.Submissions, bob, JmapSubmissionHostFixture.Password, alice, "Lunch on Friday?");
        await TestMail.SubmitAsync(f.Host.Listening.Submissions, bob, JmapSubmissionHostFixture.Password, alice, "The weekly report");
        var replies = await Eventually.Value(() => f.InboxAsync(bob, "Out of office"), l => l.Count >= 1, TimeSpan.FromSeconds(30), "the vacation reply");
        Assert.Equal("auto-replied", replies[0].Headers[HeaderId.AutoSubmitted]);
        Assert.Contains("I am away until Monday.", replies[0].TextBody);
        using (var imap = await f.ImapAsync(alice))
        {
            await Eventually.Until(async () =>
            {
                var reports = await imap.GetFolderAsync("Reports");
                await reports.StatusAsync(StatusItems.Count);
                return reports.Count == 1;
            }, TimeSpan.FromSeconds(30), "the user's own filter filing the report");
        }
        await Eventually.HoldsFor(async () => (await f.InboxAsync(bob, "Out of office")).Count == 1, TimeSpan.FromSeconds(3), "only one reply to bob");

        // Switched off: the text stays; the singleton cannot be created or destroyed; a bad date is refused.
        var offSet = (await c.CallAsync("VacationResponse/set", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["update"] = new JsonObject { ["singleton"] = new JsonObject { ["isEnabled"] = false }, ["other"] = new JsonObject() },
            ["create"] = new JsonObject { ["k"] = new JsonObject() },
            ["destroy"] = new JsonArray("singleton"),
        }, vacationUsing)).Of("VacationResponse/set");
        Assert.Equal("notFound", (string)offSet["notUpdated"]!["other"]!["type"]!);
        Assert.Equal("singleton", (string)offSet["notCreated"]!["k"]!["type"]!);
        Assert.Equal("singleton", (string)offSet["notDestroyed"]!["singleton"]!["type"]!);
        var kept = (JsonObject)((JsonArray)(await c.CallAsync("VacationResponse/get", new { accountId = c.AccountId }, vacationUsing)).Of("VacationResponse/get")["list"]!)[0]!;
        Assert.Equal((false, "Out of office"), ((bool)kept["isEnabled"]!, (string)kept["subject"]!));
        var bad = (await c.CallAsync("VacationResponse/set", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["update"] = new JsonObject { ["singleton"] = new JsonObject { ["toDate"] = "next week", ["colour"] = "red" } },
        }, vacationUsing)).Of("VacationResponse/set");
        Assert.Equal(["toDate", "colour"], ((JsonArray)bad["notUpdated"]!["singleton"]!["properties"]!).Select(p => (string)p!));
        Assert.Equal("unknownMethod", (await c.CallAsync("VacationResponse/get", new { accountId = c.AccountId })).ErrorType());
    }

    private static async Task<(JsonObject Submission, string State)> SubmissionAsync(JmapClient c, string id)
    {
        var get = (await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId, ids = new[] { id } }, Using)).Of("EmailSubmission/get");
        return ((JsonObject)get["list"]![0]!, (string)get["state"]!);
    }

    /// <summary>
    /// A report's blob as downloaded. The submission lists a report once it is accepted for the mailbox, which can be
    /// a moment before the mailbox's JMAP view holds it (the delivery is still in the inbound stream): until then the
    /// download is 404, so this waits for 200.
    /// </summary>
    private static async Task<byte[]> DownloadReportAsync(JmapClient c, string blobId, string name) =>
        await Eventually.Value(async () =>
        {
            using var r = await c.Http.GetAsync($"/jmap/download/{c.AccountId}/{blobId}/{name}?accept=message/rfc822");
            return r.StatusCode == HttpStatusCode.OK ? await r.Content.ReadAsByteArrayAsync() : null;
        }, b => b is not null, TimeSpan.FromSeconds(30), $"the report {blobId} downloadable") ?? [];

    private static string Delivered(JsonObject submission, string rcpt) => (string)submission["deliveryStatus"]![rcpt]!["delivered"]!;

    [Fact]
    public async Task Delivery_status_follows_the_message_to_a_mailbox_and_to_a_bounce_whose_dsn_is_listed()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var nowhere = $"someone@{JmapSubmissionHostFixture.NoMail}";
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [bob, nowhere], "Status report");
        var r = await SubmitAsync(c, identity, draft);
        var created = (JsonObject)r.Of("EmailSubmission/set")["created"]!["s"]!;
        var id = (string)created["id"]!;
        var createdState = (string)r.Of("EmailSubmission/set")["newState"]!;
        Assert.Equal("pending", (string)created["undoStatus"]!);
        Assert.Equal(["queued", "queued"], new[] { bob, nowhere }.Select(a => Delivered(created, a)));

        // Bob's mailbox stores it; the null-MX domain refuses it: GrainMail's own outbound route bounces it
        // with a DSN to alice's INBOX, which the submission lists (RFC 8621 7: dsnBlobIds).
        var (done, state) = await Eventually.Value(() => SubmissionAsync(c, id),
            s => Delivered(s.Submission, bob) == "yes" && Delivered(s.Submission, nowhere) == "no" && ((JsonArray)s.Submission["dsnBlobIds"]!).Count == 1,
            TimeSpan.FromSeconds(60), "bob's copy stored, the bounce recorded and its DSN listed");
        Assert.Equal("final", (string)done["undoStatus"]!);
        Assert.StartsWith("250 ", (string)done["deliveryStatus"]![bob]!["smtpReply"]!);
        // An SMTP reply string (RFC 8621 7), saying why.
        Assert.Matches(@"^5\d\d ", (string)done["deliveryStatus"]![nowhere]!["smtpReply"]!);
        Assert.Contains("null MX", (string)done["deliveryStatus"]![nowhere]!["smtpReply"]!);
        Assert.Equal("unknown", (string)done["deliveryStatus"]![bob]!["displayed"]!);
        Assert.Empty((JsonArray)done["mdnBlobIds"]!);
        Assert.Null(done["_targets"]);

        // The DSN's blob is the bounce as received: a multipart/report naming the refused recipient.
        var blobId = (string)done["dsnBlobIds"]![0]!;
        var bounce = MimeMessage.Load(new MemoryStream(await DownloadReportAsync(c, blobId, "bounce.eml")));
        var report = Assert.IsType<MultipartReport>(bounce.Body);
        Assert.Equal("delivery-status", report.ReportType);
        Assert.Contains(nowhere, bounce.TextBody);

        // Each change was a new state: /changes from the creation's state names the submission as updated.
        Assert.NotEqual(createdState, state);
        var changes = (await c.CallAsync("EmailSubmission/changes", new { accountId = c.AccountId, sinceState = createdState }, Using)).Of("EmailSubmission/changes");
        Assert.Equal([id], ((JsonArray)changes["updated"]!).Select(x => (string)x!));
        Assert.Empty((JsonArray)changes["created"]!);
        Assert.Equal(state, (string)changes["newState"]!);
        var query = (await c.CallAsync("EmailSubmission/query", new { accountId = c.AccountId, filter = new { undoStatus = "pending" } }, Using)).Of("EmailSubmission/query");
        Assert.Empty((JsonArray)query["ids"]!);
    }

    [Fact]
    public async Task An_mdn_sent_by_the_recipient_is_listed_and_says_the_message_was_displayed()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [bob], "Please confirm");
        var id = (string)(await SubmitAsync(c, identity, draft)).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        var got = await Eventually.Value(() => f.InboxAsync(bob, "Please confirm"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in bob's INBOX");
        var (delivered, before) = await Eventually.Value(() => SubmissionAsync(c, id), s => Delivered(s.Submission, bob) == "yes",
            TimeSpan.FromSeconds(30), "bob's copy stored");
        Assert.Equal("unknown", (string)delivered["deliveryStatus"]![bob]!["displayed"]!);

        // Bob's client reads it and sends a disposition notification (RFC 8098) by SMTP submission.
        var mdn = new MimeMessage();
        mdn.From.Add(MailboxAddress.Parse(bob));
        mdn.To.Add(MailboxAddress.Parse(alice));
        mdn.Subject = "Read: Please confirm";
        var notification = new MimePart("message", "disposition-notification")
        {
            Content = new MimeContent(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(
                $"Reporting-UA: test-client\r\nFinal-Recipient: rfc822; {bob}\r\nOriginal-Message-ID: <{got[0].MessageId}>\r\n" +
                "Disposition: manual-action/MDN-sent-manually; displayed\r\n"))),
        };
        mdn.Body = new MultipartReport("disposition-notification") { new TextPart("plain") { Text = "Your message was displayed." }, notification };
        using (var smtp = new MailKit.Net.Smtp.SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await smtp.ConnectAsync("127.0.0.1", f.Host.Listening.Submissions, SecureSocketOptions.SslOnConnect);
            await smtp.AuthenticateAsync(bob, JmapSubmissionHostFixture.Password);
            await smtp.SendAsync(mdn);
            await smtp.DisconnectAsync(true);
        }

        var (shown, after) = await Eventually.Value(() => SubmissionAsync(c, id), s => ((JsonArray)s.Submission["mdnBlobIds"]!).Count == 1,
            TimeSpan.FromSeconds(30), "the MDN listed on the submission");
        Assert.Equal("yes", (string)shown["deliveryStatus"]![bob]!["displayed"]!);
        Assert.Equal("yes", Delivered(shown, bob));
        Assert.Empty((JsonArray)shown["dsnBlobIds"]!);
        Assert.NotEqual(before, after);
        var received = MimeMessage.Load(new MemoryStream(await DownloadReportAsync(c, (string)shown["mdnBlobIds"]![0]!, "mdn.eml")));
        Assert.Equal("disposition-notification", Assert.IsType<MultipartReport>(received.Body).ReportType);
    }

    [Fact]
    public async Task A_listed_dsn_downloads_at_once_and_returns_the_submission_id_as_its_envelope_id()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var nowhere = $"someone@{JmapSubmissionHostFixture.NoMail}";
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [nowhere], "Report at once");
        var id = (string)(await SubmitAsync(c, identity, draft)).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;

        // Polled without a pause, so that the download is asked the moment the DSN is listed: its submit has committed,
        // its copy may still be on the way to alice's INBOX (the inbound stream), and the listed blob must download anyway.
        string? blobId = null;
        for (var tries = 0; blobId is null && tries < 20_000; tries++)
        {
            var (s, _) = await SubmissionAsync(c, id);
            if (((JsonArray)s["dsnBlobIds"]!).Count > 0) blobId = (string)s["dsnBlobIds"]![0]!;
        }
        Assert.NotNull(blobId);
        using var r = await c.Http.GetAsync($"/jmap/download/{c.AccountId}/{blobId}/bounce.eml?accept=message/rfc822");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var bounce = MimeMessage.Load(new MemoryStream(await r.Content.ReadAsByteArrayAsync()));
        var report = Assert.IsType<MultipartReport>(bounce.Body);
        // RFC 3461 4.4 / RFC 3464 2.2.1: the ENVID the message left with comes back as Original-Envelope-Id — the submission's id.
        var status = report.OfType<MessageDeliveryStatus>().Single();
        Assert.Equal(id, status.StatusGroups[0]["Original-Envelope-Id"]?.Trim());

        // An id no submission lists (and no Email has) is still 404.
        using var none = await c.Http.GetAsync($"/jmap/download/{c.AccountId}/B{new string('0', 24)}/x.eml");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    [Fact]
    public async Task Two_sendings_of_one_email_each_list_only_the_dsn_with_their_envelope_id()
    {
        // The same Email sent twice leaves twice with one Message-ID; the DSNs tell the sendings apart by the ENVID.
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var nowhere = $"someone@{JmapSubmissionHostFixture.NoMail}";
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var draft = await DraftAsync(c, alice, [nowhere], "Sent twice");
        var first = (string)(await SubmitAsync(c, identity, draft)).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        var second = (string)(await SubmitAsync(c, identity, draft)).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        static JsonArray Dsns(JsonObject s) => (JsonArray)s["dsnBlobIds"]!;
        var (one, _) = await Eventually.Value(() => SubmissionAsync(c, first), s => Dsns(s.Submission).Count > 0, TimeSpan.FromSeconds(60), "the first sending's DSN");
        var (two, _) = await Eventually.Value(() => SubmissionAsync(c, second), s => Dsns(s.Submission).Count > 0, TimeSpan.FromSeconds(60), "the second sending's DSN");
        // Both bounces have arrived once the second is listed; read the first again after it.
        (one, _) = await SubmissionAsync(c, first);
        Assert.Single(Dsns(one));
        Assert.Single(Dsns(two));
        Assert.NotEqual((string)Dsns(one)[0]!, (string)Dsns(two)[0]!);
        Assert.Equal("no", Delivered(one, nowhere));
        Assert.Equal("no", Delivered(two, nowhere));
    }

    [Fact]
    public async Task A_mailing_list_recipient_is_delivered_once_the_list_takes_the_post_and_queued_while_held()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var carol = await f.NewAccountAsync(domain, "carol");
        async Task<string> ListAsync(string policy, string[]? moderators)
        {
            var name = $"l{Guid.NewGuid():N}"[..10];
            var created = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists", new { name, postPolicy = policy, moderators });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var member = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists/{name}/members", new { account = bob });
            Assert.Equal(HttpStatusCode.Created, member.StatusCode);
            return $"{name}@{domain}";
        }
        var open = await ListAsync("anyone", null);
        var moderated = await ListAsync("moderated", [carol]);
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);

        // RFC 8621 7: "yes" once delivered — for a list, once the list has taken the post and sent it on to its members.
        var toList = (string)(await SubmitAsync(c, identity, await DraftAsync(c, alice, [open], "To the list"))).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        var (taken, _) = await Eventually.Value(() => SubmissionAsync(c, toList), s => Delivered(s.Submission, open) != "queued",
            TimeSpan.FromSeconds(60), "the list's post no longer queued");
        Assert.Equal("yes", Delivered(taken, open));
        Assert.StartsWith("250 ", (string)taken["deliveryStatus"]![open]!["smtpReply"]!);
        Assert.Contains("mailing list", (string)taken["deliveryStatus"]![open]!["smtpReply"]!);
        Assert.Equal("final", (string)taken["undoStatus"]!);
        await Eventually.Value(() => f.InboxAsync(bob, "To the list"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the member's copy");

        // A moderated list holds the post for its moderators: still queued, and the reply says why.
        var toModerated = (string)(await SubmitAsync(c, identity, await DraftAsync(c, alice, [moderated], "Held post"))).Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        var (held, _) = await Eventually.Value(() => SubmissionAsync(c, toModerated),
            s => ((string?)s.Submission["deliveryStatus"]![moderated]!["smtpReply"])?.Contains("moderators") == true,
            TimeSpan.FromSeconds(60), "the post held for the moderators");
        Assert.Equal("queued", Delivered(held, moderated));
        Assert.Equal("pending", (string)held["undoStatus"]!);
    }

    [Fact]
    public async Task A_post_the_mailing_list_drops_is_not_delivered_and_the_reply_says_why()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var carol = await f.NewAccountAsync(domain, "carol");
        async Task<(string Name, string Address)> ListAsync(string policy, string[]? moderators)
        {
            var name = $"l{Guid.NewGuid():N}"[..10];
            var created = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists", new { name, postPolicy = policy, moderators });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var member = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists/{name}/members", new { account = bob });
            Assert.Equal(HttpStatusCode.Created, member.StatusCode);
            return (name, $"{name}@{domain}");
        }
        async Task<string> HeldIdAsync(string list, string subject)
        {
            var held = await Eventually.Value(async () => await f.Host.Http.GetFromJsonAsync<JsonArray>($"/api/v1/domains/{domain}/lists/{list}/held"),
                h => h!.Any(p => (string?)p!["subject"] == subject), TimeSpan.FromSeconds(60), $"the held post {subject}");
            return (string)held!.First(p => (string?)p!["subject"] == subject)!["id"]!;
        }
        var open = await ListAsync("anyone", null);
        var moderated = await ListAsync("moderated", [carol]);
        var doomed = await ListAsync("moderated", [carol]);
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        async Task<string> SendAsync(string to, string subject, JsonObject? headers = null)
        {
            var r = await SubmitAsync(c, identity, await DraftAsync(c, alice, [to], subject, headers: headers));
            Assert.Null(NotCreated(r));
            return (string)r.Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        }
        async Task<JsonObject> SettledAsync(string id, string list)
        {
            var (s, _) = await Eventually.Value(() => SubmissionAsync(c, id), x => Delivered(x.Submission, list) != "queued", TimeSpan.FromSeconds(60), $"{list} no longer queued");
            return s;
        }

        // A moderator's rejection: the list consumed the post and sends it to no one, so it was not delivered (RFC 8621 7 "no").
        var rejectedId = await SendAsync(moderated.Address, "Rejected post");
        var heldId = await HeldIdAsync(moderated.Name, "Rejected post");
        Assert.Equal(HttpStatusCode.NoContent, (await f.Host.Http.PostAsync($"/api/v1/domains/{domain}/lists/{moderated.Name}/held/{heldId}/reject", null)).StatusCode);
        var rejected = await SettledAsync(rejectedId, moderated.Address);
        Assert.Equal("no", Delivered(rejected, moderated.Address));
        Assert.StartsWith("550 5.7.1 ", (string)rejected["deliveryStatus"]![moderated.Address]!["smtpReply"]!);
        Assert.Contains("moderators", (string)rejected["deliveryStatus"]![moderated.Address]!["smtpReply"]!);
        Assert.Equal("final", (string)rejected["undoStatus"]!);

        // A post that already carries the list's X-Loop no longer gets this far: EmailSubmission/set refuses it at creation
        // (A_post_that_has_been_through_the_list_is_refused_at_creation_as_smtp_refuses_it_at_data).

        // A list deleted while it holds a post: the post goes with it.
        var orphanId = await SendAsync(doomed.Address, "Orphaned post");
        await HeldIdAsync(doomed.Name, "Orphaned post");
        Assert.Equal(HttpStatusCode.NoContent, (await f.Host.Http.DeleteAsync($"/api/v1/domains/{domain}/lists/{doomed.Name}")).StatusCode);
        var orphan = await SettledAsync(orphanId, doomed.Address);
        Assert.Equal("no", Delivered(orphan, doomed.Address));
        Assert.StartsWith("550 5.1.1 ", (string)orphan["deliveryStatus"]![doomed.Address]!["smtpReply"]!);

        // A post the list does send on is still "yes", and bob got only that one.
        var fineId = await SendAsync(open.Address, "Fine post");
        Assert.Equal("yes", Delivered(await SettledAsync(fineId, open.Address), open.Address));
        await Eventually.Value(() => f.InboxAsync(bob, "Fine post"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the member's copy");
    }

    /// <summary>A list named <c>l…</c> in <paramref name="domain"/> that anyone may post to, with <paramref name="member"/> in it.</summary>
    private async Task<(string Name, string Address)> OpenListAsync(string domain, string member)
    {
        var name = $"l{Guid.NewGuid():N}"[..10];
        var created = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists", new { name, postPolicy = "anyone" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var added = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/lists/{name}/members", new { account = member });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        return (name, $"{name}@{domain}");
    }

    /// <summary>Uploads <paramref name="raw"/> and imports it into Drafts (Email/import stores the blob as it is); returns the Email id.</summary>
    internal static async Task<string> ImportDraftAsync(JmapClient c, byte[] raw)
    {
        using var content = new ByteArrayContent(raw);
        content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
        var up = await c.Http.PostAsync($"/jmap/upload/{c.AccountId}/", content);
        Assert.Equal(HttpStatusCode.Created, up.StatusCode);
        var blobId = (string)JsonNode.Parse(await up.Content.ReadAsStringAsync())!["blobId"]!;
        var imported = (await c.CallAsync("Email/import", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["emails"] = new JsonObject { ["e"] = new JsonObject { ["blobId"] = blobId, ["mailboxIds"] = new JsonObject { [(await RolesAsync(c))["drafts"]] = true } } },
        })).Of("Email/import");
        Assert.True(imported["created"]?["e"] is not null, imported.ToJsonString());
        return (string)imported["created"]!["e"]!["id"]!;
    }

    /// <summary>Rows the list's stream holds, queued or dead-lettered, for <paramref name="listAddress"/>.</summary>
    private async Task<long> ListStreamRowsAsync(string listAddress)
    {
        await using var ds = Npgsql.NpgsqlDataSource.Create(f.ConnectionString);
        await using var cmd = ds.CreateCommand(
            "SELECT (SELECT count(*) FROM stream_queue WHERE stream_key = @a) + (SELECT count(*) FROM stream_dead_letter WHERE stream_key = @a)");
        cmd.Parameters.AddWithValue("a", listAddress);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task<long> ListDropsAsync(string domain, string listName)
    {
        await using var ds = Npgsql.NpgsqlDataSource.Create(f.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM mailing_list_dropped WHERE domain = @d AND list = @l");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("l", listName);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// SMTP refuses at DATA (554 5.4.6) a post that already carries the list's List-Id or X-Loop; EmailSubmission/set now
    /// refuses it at creation with invalidEmail naming the loop and the field (RFC 8621 7.5 has no loop error), by the same
    /// function. Nothing reaches the list's stream, nothing is recorded as dropped; an ordinary post to the list still goes.
    /// </summary>
    [Fact]
    public async Task A_post_that_has_been_through_the_list_is_refused_at_creation_as_smtp_refuses_it_at_data()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var list = await OpenListAsync(domain, bob);
        var other = await OpenListAsync(domain, bob);
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);

        async Task<JsonObject> RefusedAsync(string subject, JsonObject headers)
        {
            var r = await SubmitAsync(c, identity, await DraftAsync(c, alice, [list.Address], subject, headers: headers));
            var e = NotCreated(r);
            Assert.True(e is not null, r.Body.ToJsonString());
            return e!;
        }
        var byLoop = await RefusedAsync("Loop by X-Loop", new JsonObject { ["header:X-Loop:asText"] = " " + list.Address });
        Assert.Equal("invalidEmail", (string)byLoop["type"]!);
        Assert.Equal(["header:X-Loop"], ((JsonArray)byLoop["properties"]!).Select(p => (string)p!));
        Assert.StartsWith("554 5.4.6 Mail loop", (string)byLoop["description"]!);
        Assert.Contains(list.Address, (string)byLoop["description"]!);
        var byId = await RefusedAsync("Loop by List-Id", new JsonObject { ["header:List-Id:asText"] = $" The list <{list.Name}.{domain}>" });
        Assert.Equal("invalidEmail", (string)byId["type"]!);
        Assert.Equal(["header:List-Id"], ((JsonArray)byId["properties"]!).Select(p => (string)p!));
        // Sent to two lists, through one of them already: refused for that one.
        var both = await SubmitAsync(c, identity, await DraftAsync(c, alice, [other.Address, list.Address], "Loop through one of two",
            headers: new JsonObject { ["header:X-Loop:asText"] = " " + list.Address }));
        Assert.Contains(list.Address, (string)NotCreated(both)!["description"]!);

        // Nothing was queued: no submission, no row in either list's stream.
        var got = (await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId }, Using)).Of("EmailSubmission/get");
        Assert.Empty((JsonArray)got["list"]!);
        Assert.Equal(0, await ListStreamRowsAsync(list.Address));
        Assert.Equal(0, await ListStreamRowsAsync(other.Address));

        // Another list's marks are not this list's loop (a post forwarded from elsewhere), and a plain post goes as before.
        var fromOther = await SubmitAsync(c, identity, await DraftAsync(c, alice, [list.Address], "Once through the other list",
            headers: new JsonObject { ["header:X-Loop:asText"] = " " + other.Address }));
        Assert.Null(NotCreated(fromOther));
        var plain = await SubmitAsync(c, identity, await DraftAsync(c, alice, [list.Address], "A plain post"));
        Assert.Null(NotCreated(plain));
        var plainId = (string)plain.Of("EmailSubmission/set")["created"]!["s"]!["id"]!;
        var (sent, _) = await Eventually.Value(() => SubmissionAsync(c, plainId), s => Delivered(s.Submission, list.Address) != "queued",
            TimeSpan.FromSeconds(60), "the plain post taken by the list");
        Assert.Equal("yes", Delivered(sent, list.Address));
        await Eventually.Value(() => f.InboxAsync(bob, "A plain post"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the member's copy");
        await Eventually.Value(() => f.InboxAsync(bob, "Once through the other list"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the forwarded post's copy");
        Assert.Empty(await f.InboxAsync(bob, "Loop"));
        Assert.Equal(0, await ListDropsAsync(domain, list.Name));
    }

    /// <summary>
    /// More Received fields than the hop limit (100, RFC 5321 6.3) is a loop at SMTP DATA (554 5.4.6) and now at
    /// EmailSubmission/set: invalidEmail naming header:Received. Exactly 100 still goes (JMAP's own Received is not counted,
    /// as SMTP counts before adding its own), to a person and to a list alike.
    /// </summary>
    [Fact]
    public async Task A_message_with_more_received_fields_than_the_hop_limit_is_refused_at_creation()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        var list = await OpenListAsync(domain, bob);
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        byte[] Hops(int n, string to, string subject)
        {
            var sb = new System.Text.StringBuilder();
            for (var i = n; i > 0; i--) sb.Append($"Received: from hop{i - 1}.example by hop{i}.example; Wed, 2 Dec 2026 10:{i % 60:00}:00 +0000\r\n");
            sb.Append($"From: <{alice}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@hops.example>\r\n\r\nRound and round.\r\n");
            return System.Text.Encoding.ASCII.GetBytes(sb.ToString());
        }

        foreach (var to in new[] { bob, list.Address })
        {
            var r = await SubmitAsync(c, identity, await ImportDraftAsync(c, Hops(101, to, "Too many hops")));
            var e = NotCreated(r);
            Assert.True(e is not null, r.Body.ToJsonString());
            Assert.Equal("invalidEmail", (string)e!["type"]!);
            Assert.Equal(["header:Received"], ((JsonArray)e["properties"]!).Select(p => (string)p!));
            Assert.StartsWith("554 5.4.6 Too many hops", (string)e["description"]!);
        }
        Assert.Empty((JsonArray)(await c.CallAsync("EmailSubmission/get", new { accountId = c.AccountId }, Using)).Of("EmailSubmission/get")["list"]!);
        Assert.Equal(0, await ListStreamRowsAsync(list.Address));

        var fine = await SubmitAsync(c, identity, await ImportDraftAsync(c, Hops(100, bob, "Exactly the hop limit")));
        Assert.Null(NotCreated(fine));
        await Eventually.Value(() => f.InboxAsync(bob, "Exactly the hop limit"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the copy at the limit");
        Assert.Empty(await f.InboxAsync(bob, "Too many hops"));
    }

    /// <summary>
    /// What SMTP DATA refuses in the message itself, EmailSubmission/set refuses too: a From or Sender field that cannot be
    /// read as addresses (553 5.7.1 there) is forbiddenFrom — before, with an explicit envelope, it was sent. A NUL or an empty
    /// header section (554 5.6.0 there) cannot be imported any more (<see cref="Email_import_refuses_what_every_other_way_in_refuses_and_stores_crlf"/>);
    /// the submission's own check of them is the same function (JmapMessageText), tested in the protocol tests.
    /// </summary>
    [Fact]
    public async Task A_message_smtp_data_would_refuse_for_its_text_or_an_unreadable_from_is_refused_at_creation()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        async Task<JsonObject?> SendAsync(string head, string body = "Hello.\r\n")
        {
            var raw = System.Text.Encoding.ASCII.GetBytes($"{head}To: <{bob}>\r\nMessage-ID: <{Guid.NewGuid():N}@text.example>\r\n\r\n{body}");
            return NotCreated(await SubmitAsync(c, identity, await ImportDraftAsync(c, raw), Envelope(alice, bob)));
        }

        var unreadableSender = await SendAsync($"From: <{alice}>\r\nSender: <{alice}>, <\r\nSubject: Unreadable sender\r\n");
        Assert.Equal("forbiddenFrom", (string?)unreadableSender?["type"]);
        Assert.Equal(["sender"], ((JsonArray)unreadableSender!["properties"]!).Select(p => (string)p!));
        var unreadableFrom = await SendAsync($"From: <{alice}>\r\nFrom: Ann <{alice}>, @@@\r\nSubject: Unreadable from\r\n");
        Assert.Equal("forbiddenFrom", (string?)unreadableFrom?["type"]);

        // The same kind of message, readable, goes; only it arrives.
        Assert.Null(await SendAsync($"From: <{alice}>\r\nSubject: Readable text\r\n"));
        await Eventually.Value(() => f.InboxAsync(bob, "Readable text"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the readable message");
        Assert.Empty(await f.InboxAsync(bob, "Unreadable"));
    }
}
