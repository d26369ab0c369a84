using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host with the HTTPS listener on, for the user API (/api/v1/me: recall, sent list, review queue).</summary>
public sealed class GovernanceHostFixture : SmtpHostFixture
{
    public int HttpsPort { get; } = HostProcess.FreePort();

    protected override IReadOnlyDictionary<string, string>? Environment =>
        new Dictionary<string, string> { ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString() };

    /// <summary>A mail user's HTTPS client (HTTP Basic with the account's password).</summary>
    public HttpClient UserClient(string address)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(address, Password);
        return http;
    }
}

/// <summary>
/// Governance end to end over real SMTP, IMAP (MailKit) and the HTTP API: monitoring copies of mail
/// received on the MX and sent by submission, with the rules refused through the API; recall of a
/// message to three local recipients (one has read it, one watches in IDLE) and one external; and
/// outbound approval through SMTP, the reviewers' API and the send log.
/// </summary>
public sealed class GovernanceEndToEndTests(GovernanceHostFixture host) : IClassFixture<GovernanceHostFixture>
{
    private const string D = SmtpHostFixture.Domain;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private async Task<string> NewAccount(string prefix)
    {
        var lp = prefix + Guid.NewGuid().ToString("N")[..8];
        await host.NewAccount(lp);
        return $"{lp}@{D}";
    }

    private static MimeMessage Message(string from, IEnumerable<string> to, string subject, string? messageId = null)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        foreach (var t in to) m.To.Add(MailboxAddress.Parse(t));
        m.Subject = subject;
        if (messageId is not null) m.MessageId = messageId;
        m.Body = new TextPart("plain") { Text = $"About {subject}.\r\n" };
        return m;
    }

    private static SmtpClient Smtp() => new() { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };

    private async Task<string> Submit(string user, MimeMessage message)
    {
        using var c = Smtp();
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, SmtpHostFixture.Password);
        var reply = await c.SendAsync(message);
        await c.DisconnectAsync(true);
        return reply;
    }

    private async Task<string> SendMx(MimeMessage message)
    {
        using var c = Smtp();
        await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        var reply = await c.SendAsync(message);
        await c.DisconnectAsync(true);
        return reply;
    }

    private async Task<ImapClient> Imap(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, SmtpHostFixture.Password);
        return c;
    }

    private Task<HttpResponseMessage> Put(string path, object body) => host.Host.Http.PutAsJsonAsync(path, body);

    private static async Task<JsonElement> Json(HttpResponseMessage r)
    {
        Assert.True(r.IsSuccessStatusCode, $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string Text(byte[] raw) => System.Text.Encoding.UTF8.GetString(raw);

    [Fact]
    public async Task A_master_gets_copies_of_mail_its_account_receives_and_sends_and_the_rules_are_refused_by_the_api()
    {
        var reviewer = await NewAccount("rev");
        var watched = await NewAccount("watched");
        var master = await NewAccount("master");
        var other = await NewAccount("other");
        var peer = await NewAccount("peer");
        var path = $"/api/v1/domains/{D}/monitoring";

        // Off until the domain's owner says otherwise (switched off first: another test of the class turns it on).
        Assert.Equal(HttpStatusCode.NoContent, (await Put($"/api/v1/domains/{D}/governance/monitoring", new { enabled = false, reviewer })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post(path, new { monitored = watched, master })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Put($"/api/v1/domains/{D}/governance/monitoring", new { enabled = true, reviewer })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Post(path, new { monitored = watched, master })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post(path, new { monitored = other, master = other })).StatusCode);   // self
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post(path, new { monitored = watched, master = other })).StatusCode); // second master
        Assert.Equal(HttpStatusCode.Created, (await host.Post(path, new { monitored = master, master = other })).StatusCode);  // a master may be monitored
        var cycle = await host.Post(path, new { monitored = other, master = watched });                                          // watched→master→other→watched
        Assert.Equal(HttpStatusCode.Conflict, cycle.StatusCode);
        Assert.Contains("cycle", await cycle.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"{path}/{Uri.EscapeDataString(master)}")).StatusCode);
        var notices = (await host.WaitForMessages(reviewer, 3)).Select(Text).ToList();
        Assert.Equal(2, notices.Count(n => n.Contains("Monitoring relation created")));
        Assert.Single(notices, n => n.Contains("Monitoring relation removed"));

        Assert.StartsWith("2.0.0", await SendMx(Message("stranger@elsewhere.example", [watched], "inbound to the watched account")));
        Assert.StartsWith("2.0.0", await Submit(watched, Message(watched, [peer], "sent by the watched account")));
        var copies = (await host.WaitForMessages(master, 2)).Select(Text).ToList();
        Assert.Single(copies, c => c.Contains("Subject: inbound to the watched account"));
        Assert.Single(copies, c => c.Contains("Subject: sent by the watched account"));
        Assert.Single(await host.WaitForMessages(peer, 1));
        // Each copy is one delivery event of the commit: nothing is left to arrive twice.
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM stream_queue WHERE stream_key = @m");
        cmd.Parameters.AddWithValue("m", master);
        Assert.Equal(0L, Convert.ToInt64(await cmd.ExecuteScalarAsync()));
        Assert.Equal(2, await host.InboxCount(master));
        Assert.Empty(await host.StoredMessages(other)); // the removed relation sends nothing
    }

    [Fact]
    public async Task A_master_gets_a_copy_of_list_mail_its_account_receives_and_one_copy_when_a_member_itself()
    {
        var reviewer = await NewAccount("rev");
        var watched = await NewAccount("lw");
        var master = await NewAccount("lm");
        var plain = await NewAccount("lp");
        Assert.Equal(HttpStatusCode.NoContent, (await Put($"/api/v1/domains/{D}/governance/monitoring", new { enabled = true, reviewer })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/monitoring", new { monitored = watched, master })).StatusCode);
        var name = "ml" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists", new { name, postPolicy = "anyone" })).StatusCode);
        foreach (var member in new[] { watched, plain, master })
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { account = member })).StatusCode);

        Assert.StartsWith("2.0.0", await SendMx(Message("news@elsewhere.example", [$"{name}@{D}"], "list news for everyone")));
        Assert.Contains("Subject: list news for everyone", Text(Assert.Single(await host.WaitForMessages(plain, 1))));
        Assert.Single(await host.WaitForMessages(watched, 1));
        // The master is a member and monitors a member: one copy (same delivery), not two.
        Assert.Single(await host.WaitForMessages(master, 1));
        await Eventually.HoldsFor(async () => (await host.StoredMessages(master)).Count == 1, TimeSpan.FromSeconds(2), "one copy for the master");

        // Not a member: the master gets the monitoring copy of the watched member's list mail.
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/lists/{name}/members?account={Uri.EscapeDataString(master)}")).StatusCode);
        Assert.StartsWith("2.0.0", await SendMx(Message("news@elsewhere.example", [$"{name}@{D}"], "second list news")));
        await host.WaitForMessages(plain, 2);
        var copies = (await host.WaitForMessages(master, 2)).Select(Text).ToList();
        Assert.Single(copies, c => c.Contains("Subject: second list news"));
        Assert.Contains(copies, c => c.Contains($"List-Id:"));
    }

    [Fact]
    public async Task Recall_removes_unread_copies_in_the_domain_an_idle_session_sees_expunge_and_read_or_external_copies_stay()
    {
        var sender = await NewAccount("sender");
        var unread = await NewAccount("unread");
        var watching = await NewAccount("watching");
        var reader = await NewAccount("reader");
        const string external = "partner@remote.example";
        var messageId = $"{Guid.NewGuid():N}@client.example";
        Assert.StartsWith("2.0.0", await Submit(sender, Message(sender, [unread, watching, reader, external], "oops, wrong figures", messageId)));
        foreach (var r in new[] { unread, watching, reader }) await host.WaitForMessages(r, 1);

        using (var c = await Imap(reader))
        {
            await c.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await c.Inbox.AddFlagsAsync(0, MessageFlags.Seen, true);
            await c.DisconnectAsync(true);
        }

        using var idler = await Imap(watching);
        await idler.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var expunged = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        idler.Inbox.MessageExpunged += (_, e) => expunged.TrySetResult(e.Index);
        using var done = new CancellationTokenSource();
        var idle = idler.IdleAsync(done.Token);
        await Eventually.Until(async () => await IdleSessions() >= 1, Wait, "the IMAP session to be in IDLE");

        using var user = host.UserClient(sender);
        var sent = await Json(await user.GetAsync("/api/v1/me/sent"));
        Assert.Equal(messageId, sent[0].GetProperty("messageId").GetString());
        var report = await Json(await user.PostAsJsonAsync("/api/v1/me/recall", new { id = $"<{messageId}>" }));
        var outcomes = report.GetProperty("results").EnumerateArray()
            .ToDictionary(r => r.GetProperty("recipient").GetString()!, r => r.GetProperty("outcome").GetString());
        Assert.Equal("recalled", outcomes[unread]);
        Assert.Equal("recalled", outcomes[watching]);
        Assert.Equal("already-read", outcomes[reader]);
        Assert.Equal("outside-domain", outcomes[external]);

        Assert.Equal(0, await expunged.Task.WaitAsync(Wait));
        await done.CancelAsync();
        await idle;
        await idler.DisconnectAsync(true);
        Assert.Equal(0, await host.InboxCount(unread));
        Assert.Equal(0, await host.InboxCount(watching));
        Assert.Equal(1, await host.InboxCount(reader));
        // Recalled again: nothing is left to take, and what was read stays read.
        var again = await Json(await user.PostAsJsonAsync("/api/v1/me/recall", new { id = report.GetProperty("id").GetString() }));
        Assert.Contains(again.GetProperty("results").EnumerateArray(), r => r.GetProperty("outcome").GetString() == "not-in-mailbox");
        Assert.Equal(HttpStatusCode.NotFound, (await user.PostAsJsonAsync("/api/v1/me/recall", new { id = "<nothing@here>" })).StatusCode);
    }

    /// <summary>IMAP sessions in IDLE on the host right now (its own gauge), so the test acts once the session listens.</summary>
    private async Task<double> IdleSessions()
    {
        var text = await host.Host.Http.GetStringAsync("/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("grainmail_imap_idle", StringComparison.Ordinal) && !l.StartsWith('#'));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Mail_held_for_approval_shows_as_pending_and_the_reviewer_releases_it_through_the_api()
    {
        var reviewer = await NewAccount("approver");
        var author = await NewAccount("author");
        var recipient = await NewAccount("recipient");
        var rule = await Json(await host.Post($"/api/v1/domains/{D}/approval-rules", new
        {
            name = "contracts need a second look",
            senders = new[] { author },
            keywords = new[] { "contract" },
            reviewer,
            expireAfterSeconds = 3600,
            expiryReason = "no reviewer decision within the hour",
        }));
        Assert.True(rule.GetProperty("id").GetInt64() > 0);

        Assert.StartsWith("2.0.0", await Submit(author, Message(author, [recipient], "The contract draft")));
        Assert.Contains("Approval needed: The contract draft", Text((await host.WaitForMessages(reviewer, 1)).Single()));
        var log = await Json(await host.Host.Http.GetAsync($"/api/v1/accounts/{author}/sent-log"));
        Assert.Equal("pending approval", log[0].GetProperty("outcome").GetString());

        using var reviewerApi = host.UserClient(reviewer);
        var queue = await Json(await reviewerApi.GetAsync("/api/v1/me/approvals"));
        var id = queue.EnumerateArray().Single().GetProperty("id").GetString();
        using var strangerApi = host.UserClient(recipient);
        Assert.Equal(HttpStatusCode.NotFound, (await strangerApi.PostAsync($"/api/v1/me/approvals/{id}/approve", null)).StatusCode);
        Assert.Equal(0, await host.InboxCount(recipient));

        Assert.Equal(HttpStatusCode.NoContent, (await reviewerApi.PostAsync($"/api/v1/me/approvals/{id}/approve", null)).StatusCode);
        Assert.Contains("Subject: The contract draft", Text((await host.WaitForMessages(recipient, 1)).Single()));
        Assert.Empty((await Json(await host.Host.Http.GetAsync($"/api/v1/approvals?domain={D}"))).EnumerateArray());
        log = await Json(await host.Host.Http.GetAsync($"/api/v1/accounts/{author}/sent-log"));
        Assert.Contains(log.EnumerateArray(), l => l.GetProperty("outcome").GetString() == "approved");
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/approval-rules/{rule.GetProperty("id").GetInt64()}")).StatusCode);
    }

    /// <summary>Issue 17: "API and CLI for reviewers": the operator script lists held mail, approves one and rejects another with a reason.</summary>
    [Fact]
    public async Task The_grainmail_script_lists_approves_and_rejects_held_mail()
    {
        var reviewer = await NewAccount("cli-approver");
        var author = await NewAccount("cli-author");
        var recipient = await NewAccount("cli-recipient");
        var rule = await Json(await host.Post($"/api/v1/domains/{D}/approval-rules", new
        {
            name = "tenders need a second look",
            senders = new[] { author },
            keywords = new[] { "tender" },
            reviewer,
            expireAfterSeconds = 3600,
            expiryReason = "no decision",
        }));
        Assert.StartsWith("2.0.0", await Submit(author, Message(author, [recipient], "Tender one")));
        Assert.StartsWith("2.0.0", await Submit(author, Message(author, [recipient], "Tender two")));

        var held = await GrainmailCli.AsOperator(host.Host.BaseUrl, "approval", "held", D);
        Assert.True(held.ExitCode == 0, held.Err);
        var mine = held.Json.EnumerateArray().Where(h => h.GetProperty("account").GetString() == author).ToList();
        Assert.Equal(2, mine.Count);
        string IdOf(string subject) => mine.Single(h => h.GetProperty("subject").GetString() == subject).GetProperty("id").GetString()!;

        var approve = await GrainmailCli.AsOperator(host.Host.BaseUrl, "approval", "approve", IdOf("Tender one"));
        Assert.True(approve.ExitCode == 0, approve.Err);
        var reject = await GrainmailCli.AsOperator(host.Host.BaseUrl, "approval", "reject", IdOf("Tender two"), "prices are not final");
        Assert.True(reject.ExitCode == 0, reject.Err);

        // The approved one reaches its recipient, alone; the rejected one returns to its author with the reason.
        Assert.Contains("Subject: Tender one", Text((await host.WaitForMessages(recipient, 1)).Single()));
        var bounce = Text((await host.WaitForMessages(author, 1)).Single());
        Assert.Contains("prices are not final", bounce);
        Assert.Equal(1, await host.InboxCount(recipient));
        Assert.DoesNotContain((await GrainmailCli.AsOperator(host.Host.BaseUrl, "approval", "held", D)).Json.EnumerateArray(),
            h => h.GetProperty("account").GetString() == author);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/approval-rules/{rule.GetProperty("id").GetInt64()}")).StatusCode);
    }

    [Fact]
    public async Task Approval_also_holds_an_accounts_mail_posted_by_the_http_api_and_list_posts_that_reach_outside()
    {
        var reviewer = await NewAccount("apr");
        var author = await NewAccount("apa");
        var recipient = await NewAccount("apc");
        var member = await NewAccount("apm");
        var byKeyword = await Json(await host.Post($"/api/v1/domains/{D}/approval-rules", new
        {
            name = "mergers",
            senders = new[] { author },
            keywords = new[] { "merger" },
            reviewer,
            expireAfterSeconds = 3600,
            expiryReason = "expired",
        }));
        var outside = await Json(await host.Post($"/api/v1/domains/{D}/approval-rules", new
        {
            name = "anything leaving",
            senders = new[] { author },
            outsideDomain = true,
            reviewer,
            expireAfterSeconds = 3600,
            expiryReason = "expired",
        }));
        using var reviewerApi = host.UserClient(reviewer);
        try
        {
            // POST /messages with the account as sender: held like its SMTP submission.
            var raw = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
                $"From: {author}\r\nTo: {recipient}\r\nSubject: The merger plan\r\nMessage-ID: <{Guid.NewGuid():N}@api.test>\r\n\r\nconfidential\r\n"));
            var posted = await host.Post("/api/v1/messages", new { from = author, to = new[] { recipient }, raw });
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
            var answer = await posted.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(answer.GetProperty("pendingApproval").GetBoolean());
            Assert.Equal(0, answer.GetProperty("deliveries").GetInt32());
            Assert.Contains("Approval needed: The merger plan", Text((await host.WaitForMessages(reviewer, 1)).Single()));
            Assert.Equal(0, await host.InboxCount(recipient));
            var held = (await Json(await reviewerApi.GetAsync("/api/v1/me/approvals"))).EnumerateArray().Single();
            Assert.Equal(HttpStatusCode.NoContent, (await reviewerApi.PostAsync($"/api/v1/me/approvals/{held.GetProperty("id").GetString()}/approve", null)).StatusCode);
            Assert.Contains("Subject: The merger plan", Text((await host.WaitForMessages(recipient, 1)).Single()));

            // A post to a list with a member outside the domain is mail leaving the domain.
            var name = "ap" + Guid.NewGuid().ToString("N")[..8];
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists", new { name, postPolicy = "anyone" })).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { account = member })).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { external = "partner@remote.example" })).StatusCode);
            Assert.StartsWith("2.0.0", await Submit(author, Message(author, [$"{name}@{D}"], "Team lunch on Friday")));
            Assert.Contains((await host.WaitForMessages(reviewer, 2)).Select(Text), n => n.Contains("Approval needed: Team lunch on Friday"));
            Assert.Equal(0, await host.InboxCount(member));
            held = (await Json(await reviewerApi.GetAsync("/api/v1/me/approvals"))).EnumerateArray().Single();
            Assert.Equal(HttpStatusCode.NoContent, (await reviewerApi.PostAsync($"/api/v1/me/approvals/{held.GetProperty("id").GetString()}/approve", null)).StatusCode);
            Assert.Contains("Subject: Team lunch on Friday", Text((await host.WaitForMessages(member, 1)).Single()));

            // The same author posting by the API to an account that no rule concerns is delivered at once.
            var plain = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"From: {author}\r\nTo: {recipient}\r\nSubject: lunch\r\n\r\nhi\r\n"));
            var direct = await (await host.Post("/api/v1/messages", new { from = author, to = new[] { recipient }, raw = plain })).Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(direct.GetProperty("pendingApproval").GetBoolean());
            await host.WaitForMessages(recipient, 2);
        }
        finally
        {
            foreach (var rule in new[] { byKeyword, outside })
                await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/approval-rules/{rule.GetProperty("id").GetInt64()}");
        }
    }
}
