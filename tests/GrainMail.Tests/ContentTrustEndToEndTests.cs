using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// A host with inbound trust on, its own DNS (SPF and DMARC for the senders below, one blocklist) and the
/// HTTPS listener for the mail user's own API.
/// </summary>
public sealed class ContentTrustHostFixture : SmtpHostFixture
{
    public TestDnsServer Dns { get; } = new();

    public int HttpsPort { get; } = HostProcess.FreePort();

    public ContentTrustHostFixture()
    {
        // SPF passes from loopback and aligns with From: DMARC passes (p=reject: a spoof is refused).
        Dns.Txt["bank.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        Dns.Txt["_dmarc.bank.example"] = ["v=DMARC1; p=reject"];
        // p=none: a spoof fails DMARC but DMARC itself asks for nothing.
        Dns.Txt["nonebank.example"] = ["v=spf1 -all"];
        Dns.Txt["_dmarc.nonebank.example"] = ["v=DMARC1; p=none"];
        // SPF pass, no DMARC: content decides.
        TrustSenders.Plain(Dns);
        Dns.Txt["spam.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        // 127.0.0.2 is listed once (weight 5: Junk by itself).
        Dns.A["2.0.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
        // 127.0.1.2 too: a listed network with no history, where no earlier test's ham has made the
        // reputation of 127.0.0.0/24 good (REP_NET_GOOD, -1, which takes a listing alone below Junk).
        Dns.A["2.1.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_TRUST"] = "true",
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_DNSBL"] = "bl1.test:5",
        ["GrainMail__AllowPlaintextAuth"] = "true",
        ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A JMAP client for a mail user, signed in interactively (POST /api/v1/me/sessions: bearer token).</summary>
    public async Task<JmapClient> JmapAsync(string address)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        var r = await http.PostAsJsonAsync("/api/v1/me/sessions", new { address, password = Password });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var token = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var client = new JmapClient(http);
        await client.LoadSessionAsync();
        return client;
    }

    /// <summary>An HTTPS client signed in as a mail user (HTTP Basic), for /api/v1/me.</summary>
    public HttpClient UserClient(string address)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(address, Password);
        return http;
    }
}

/// <summary>
/// The content classifier, learning from IMAP moves, allow/block lists and the user's quarantine, end to
/// end: real SMTP on the MX port, IMAP (MailKit) for the moves and reads, the admin and user APIs.
/// </summary>
public sealed class ContentTrustEndToEndTests(ContentTrustHostFixture fixture) : IClassFixture<ContentTrustHostFixture>
{
    private const string Domain = SmtpHostFixture.Domain;

    internal static string Pitch(string to, int n) =>
        $"From: <deals@plain.example>\r\nTo: {to}\r\nSubject: Zorblax crypto doubling {n}\r\nMessage-ID: <pitch{n}@plain.example>\r\n\r\n"
        + "Double your zorblax coins overnight with our guaranteed quantum wallet scheme.\r\n"
        + "Send zorblax to the wallet today, withdraw twice tomorrow. Limited seats, act now.\r\n";

    [Fact]
    public async Task Moving_into_junk_teaches_the_users_model_moving_out_reverses_it_and_relearning_is_idempotent()
    {
        await fixture.NewAccount("lena");
        var lena = $"lena@{Domain}";
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", lena, Pitch(lena, 1)));
        var first = Assert.Single(await fixture.ReadFolder(lena, "INBOX", 1));
        Assert.DoesNotContain("BAYES_", first.Headers["X-Spam-Status"]);

        // The user judges it spam: MOVE into \Junk.
        await fixture.WithImap(lena, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await imap.Inbox.MoveToAsync(0, await imap.GetFolderAsync("Junk"));
        });
        await ModelIs(lena, 1, 0);

        // The next message of its kind goes to Junk on the classifier's word.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", lena, Pitch(lena, 2)));
        var junked = await fixture.ReadFolder(lena, "Junk", 2);
        Assert.Contains(junked, m => (m.Subject ?? "").EndsWith(" 2", StringComparison.Ordinal) && (m.Headers["X-Spam-Status"] ?? "").Contains("BAYES_99", StringComparison.Ordinal));

        // The user changes their mind: both out of Junk into the INBOX (the first is relearned as ham).
        await fixture.WithImap(lena, async imap =>
        {
            var junk = await imap.GetFolderAsync("Junk");
            await junk.OpenAsync(FolderAccess.ReadWrite);
            await junk.MoveToAsync(await junk.SearchAsync(MailKit.Search.SearchQuery.All), imap.Inbox);
        });
        await ModelIs(lena, 0, 2);
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", lena, Pitch(lena, 3)));
        var inbox = await fixture.ReadFolder(lena, "INBOX", 3);
        var third = Assert.Single(inbox, m => (m.Subject ?? "").EndsWith(" 3", StringComparison.Ordinal));
        Assert.Contains("BAYES_00", third.Headers["X-Spam-Status"]);
        Assert.StartsWith("No,", third.Headers["X-Spam-Status"]);

        // The same message twice into Junk (COPY, then COPY again): learned once.
        await fixture.WithImap(lena, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var uid = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 3"))).Single();
            var junk = await imap.GetFolderAsync("Junk");
            await imap.Inbox.CopyToAsync(uid, junk);
            await imap.Inbox.CopyToAsync(uid, junk);
        });
        await ModelIs(lena, 1, 2);
        // A later learn is seen, and the count it adds to is still the one above (no late double count).
        await fixture.WithImap(lena, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var uid = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 1"))).Single();
            await imap.Inbox.MoveToAsync(uid, await imap.GetFolderAsync("Junk"));
        });
        await ModelIs(lena, 2, 1);
    }

    [Fact]
    public async Task Junk_keywords_set_by_imap_store_train_like_moves_and_a_verdict_given_both_ways_counts_once()
    {
        await fixture.NewAccount("nils");
        var nils = $"nils@{Domain}";
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", nils, Pitch(nils, 21)));
        await fixture.ReadFolder(nils, "INBOX", 1);

        // STORE +FLAGS ($junk): keywords compare case-insensitively, so this is the registered $Junk.
        await fixture.WithImap(nils, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var uid = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All)).Single();
            await imap.Inbox.StoreAsync(uid, new StoreFlagsRequest(StoreAction.Add, ["$junk"]) { Silent = true });
        });
        await ModelIs(nils, 1, 0);

        // The next message of its kind goes to Junk on the classifier's word.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", nils, Pitch(nils, 22)));
        var junked = Assert.Single(await fixture.ReadFolder(nils, "Junk", 1));
        Assert.Contains("BAYES_99", junked.Headers["X-Spam-Status"]);

        // The first one also MOVEd into Junk (the same verdict again: nothing changes), the second marked $NotJunk (ham).
        await fixture.WithImap(nils, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var junk = await imap.GetFolderAsync("Junk");
            await imap.Inbox.MoveToAsync((await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All)).Single(), junk);
            await junk.OpenAsync(FolderAccess.ReadWrite);
            var second = (await junk.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 22"))).Single();
            await junk.StoreAsync(second, new StoreFlagsRequest(StoreAction.Add, ["$NotJunk"]) { Silent = true });
        });
        await ModelIs(nils, 1, 1);

        // -FLAGS ($JUNK) on the first: taking the verdict back learns it as ham; setting it again, spam.
        await fixture.WithImap(nils, async imap =>
        {
            var junk = await imap.GetFolderAsync("Junk");
            await junk.OpenAsync(FolderAccess.ReadWrite);
            var first = (await junk.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 21"))).Single();
            await junk.StoreAsync(first, new StoreFlagsRequest(StoreAction.Remove, ["$JUNK"]) { Silent = true });
        });
        await ModelIs(nils, 0, 2);
        // A keyword that is no verdict ($NotJunk taken off, a keyword of the user's own) teaches nothing; $Junk again does.
        await fixture.WithImap(nils, async imap =>
        {
            var junk = await imap.GetFolderAsync("Junk");
            await junk.OpenAsync(FolderAccess.ReadWrite);
            var second = (await junk.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 22"))).Single();
            var first = (await junk.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 21"))).Single();
            await junk.StoreAsync(second, new StoreFlagsRequest(StoreAction.Remove, ["$NotJunk"]) { Silent = true });
            await junk.StoreAsync(second, new StoreFlagsRequest(StoreAction.Add, ["projectx"]) { Silent = true });
            await junk.StoreAsync(first, new StoreFlagsRequest(StoreAction.Add, ["$Junk"]) { Silent = true });
        });
        await ModelIs(nils, 1, 1);
    }

    [Fact]
    public async Task Junk_keywords_on_an_appended_message_train_like_a_store_in_any_folder_and_count_once()
    {
        await fixture.NewAccount("olga");
        var olga = $"olga@{Domain}";
        static MimeMessage Parsed(string text) => MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)));
        await fixture.WithImap(olga, async imap =>
        {
            // Into Junk without a keyword: where a new message is put is no verdict (a migration copies
            // whatever the old server's filter put there); the keyword is.
            await (await imap.GetFolderAsync("Junk")).AppendAsync(new AppendRequest(Parsed(Pitch(olga, 40)), MessageFlags.None));
            await imap.Inbox.AppendAsync(new AppendRequest(Parsed(Pitch(olga, 41)), MessageFlags.Seen, ["$Junk"]));
        });
        await ModelIs(olga, 1, 0);

        // The next message of its kind, delivered, is spam for olga.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", olga, Pitch(olga, 42)));
        var junked = await fixture.ReadFolder(olga, "Junk", 2);
        var delivered = Assert.Single(junked, m => (m.Subject ?? "").EndsWith(" 42", StringComparison.Ordinal));
        Assert.Contains("BAYES_99", delivered.Headers["X-Spam-Status"]);

        // The same message appended again with $Junk (into Trash, any folder) is learned once; with $NotJunk
        // (case-insensitive) the verdict turns: 0 spam / 1 ham, where a double count would leave 1 / 1.
        await fixture.WithImap(olga, async imap =>
        {
            var trash = await imap.GetFolderAsync("Trash");
            await trash.AppendAsync(new AppendRequest(Parsed(Pitch(olga, 41)), MessageFlags.None, ["$Junk"]));
            await trash.AppendAsync(new AppendRequest(Parsed(Pitch(olga, 41)), MessageFlags.None, ["$notjunk"]));
        });
        await ModelIs(olga, 0, 1);
    }

    [Fact]
    public async Task A_sieve_scripts_junk_flags_at_delivery_train_the_filter_like_a_store()
    {
        await fixture.NewAccount("petra");
        var petra = $"petra@{Domain}";
        using var me = fixture.UserClient(petra);
        // imap4flags (RFC 5232): addflag before the implicit keep, setflag for the other kind.
        var put = await me.PutAsJsonAsync("/api/v1/me/sieve/verdicts", new
        {
            script = "require [\"imap4flags\"];\n"
                + "if header :contains \"subject\" \"doubling 51\" { addflag \"$Junk\"; }\n"
                + "if header :contains \"subject\" \"minutes\" { setflag [\"\\\\Seen\", \"$NotJunk\"]; }\n",
        });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsync("/api/v1/me/sieve/verdicts/activate", null)).StatusCode);

        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", petra, Pitch(petra, 51)));
        var flagged = Assert.Single(await fixture.ReadFolder(petra, "INBOX", 1));
        Assert.DoesNotContain("BAYES_", flagged.Headers["X-Spam-Status"]);
        await ModelIs(petra, 1, 0);
        // The next message of the junked kind (the script leaves it alone) is scored as spam for petra and filed in Junk.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", petra, Pitch(petra, 52)));
        var junked = Assert.Single(await fixture.ReadFolder(petra, "Junk", 1));
        Assert.EndsWith(" 52", junked.Subject);
        Assert.Contains("BAYES_99", junked.Headers["X-Spam-Status"]);

        // setflag with $NotJunk: ham.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", petra,
            $"From: <deals@plain.example>\r\nTo: {petra}\r\nSubject: Board minutes\r\nMessage-ID: <minutes@plain.example>\r\n\r\n"
            + "The board approved the budget for the new library wing and the spring reading programme.\r\n"));
        await ModelIs(petra, 1, 1);
        await fixture.WithImap(petra, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
            var first = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("doubling 51"))).Single();
            var summary = (await imap.Inbox.FetchAsync([first], MessageSummaryItems.Flags)).Single();
            Assert.Contains("$Junk", summary.Keywords);
        });
    }

    [Fact]
    public async Task Junk_keywords_set_by_jmap_train_and_a_later_mailbox_move_counts_once()
    {
        await fixture.NewAccount("maud");
        var maud = $"maud@{Domain}";
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", maud, Pitch(maud, 31)));
        await fixture.ReadFolder(maud, "INBOX", 1);
        using var jmap = await fixture.JmapAsync(maud);
        var acc = jmap.AccountId;
        var boxes = (JsonArray)(await jmap.CallAsync("Mailbox/get", new { accountId = acc })).Of("Mailbox/get")["list"]!;
        string Box(string role) => (string)boxes.First(b => (string?)b!["role"] == role)!["id"]!;
        async Task<string> Only(string role) =>
            (string)((JsonArray)(await jmap.CallAsync("Email/query", new JsonObject { ["accountId"] = acc, ["filter"] = new JsonObject { ["inMailbox"] = Box(role) } }))
                .Of("Email/query")["ids"]!).Single()!;
        async Task Update(string id, JsonObject patch)
        {
            var set = (await jmap.CallAsync("Email/set", new JsonObject { ["accountId"] = acc, ["update"] = new JsonObject { [id] = patch } })).Of("Email/set");
            Assert.True(((JsonObject)set["updated"]!).ContainsKey(id), set.ToJsonString());
        }

        var first = await Only("inbox");
        await Update(first, new JsonObject { ["keywords/$junk"] = true });
        await ModelIs(maud, 1, 0);
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", maud, Pitch(maud, 32)));
        var junked = Assert.Single(await fixture.ReadFolder(maud, "Junk", 1));
        Assert.Contains("BAYES_99", junked.Headers["X-Spam-Status"]);
        var second = await Only("junk");

        // The second out of Junk by mailboxIds (the webmail's Not Junk): ham. The first into Junk by mailboxIds
        // and the second marked $notjunk: verdicts given already, by keyword and by move, change nothing.
        await Update(second, new JsonObject { ["mailboxIds"] = new JsonObject { [Box("inbox")] = true } });
        await ModelIs(maud, 1, 1);
        await Update(first, new JsonObject { ["mailboxIds"] = new JsonObject { [Box("junk")] = true } });
        await Update(second, new JsonObject { ["keywords/$notjunk"] = true });
        // $junk removed from the first: ham (when the learner has done this, it has done the two above).
        await Update(first, new JsonObject { ["keywords/$junk"] = null });
        await ModelIs(maud, 0, 2);
    }

    [Fact]
    public async Task Gtube_is_refused_as_spam()
    {
        var reply = await fixture.SendMxAsync("deals@plain.example", $"alice@{Domain}",
            $"From: <deals@plain.example>\r\nTo: alice@{Domain}\r\nSubject: test\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n");
        Assert.StartsWith("550 5.7.1", reply);
        Assert.Contains("GTUBE", reply);
    }

    [Fact]
    public async Task An_allow_listed_sender_is_delivered_but_a_spoof_of_it_is_not()
    {
        await fixture.NewAccount("mona");
        var mona = $"mona@{Domain}";
        using var user = fixture.UserClient(mona);
        foreach (var entry in new[] { "bank.example", "nonebank.example" })
            Assert.Equal(HttpStatusCode.Created, (await user.PostAsJsonAsync("/api/v1/me/sender-lists", new { list = "allow", entry })).StatusCode);
        Assert.Equal(2, (await user.GetFromJsonAsync<JsonElement>("/api/v1/me/sender-lists")).GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await user.PostAsJsonAsync("/api/v1/me/sender-lists", new { list = "allow", entry = "not an entry" })).StatusCode);

        // From a listed network (Junk by itself), authenticated: the allow entry delivers it to the INBOX.
        var listed = IPAddress.Parse("127.0.0.2");
        Assert.StartsWith("250 ", await fixture.SendMxAsync("alerts@bank.example", mona,
            $"From: <alerts@bank.example>\r\nTo: {mona}\r\nSubject: statement\r\n\r\nYour statement is ready.\r\n", listed));
        var good = Assert.Single(await fixture.ReadFolder(mona, "INBOX", 1));
        Assert.Contains("USER_ALLOW", good.Headers["X-Spam-Status"]);

        // The same From: from someone else: DMARC fails and p=reject refuses it; the allow entry does not help.
        var spoof = await fixture.SendMxAsync("x@evil.example", mona, $"From: <alerts@bank.example>\r\nTo: {mona}\r\nSubject: urgent\r\n\r\nVerify your account.\r\n");
        Assert.StartsWith("550 5.7.1", spoof);
        var refused = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{mona}/receive-log?limit=1")).EnumerateArray().Single();
        Assert.Equal("reject", refused.GetProperty("action").GetString());
        Assert.Contains("ALLOW_UNVERIFIED", refused.GetProperty("symbols").GetString());
        Assert.DoesNotContain("USER_ALLOW", refused.GetProperty("symbols").GetString());

        // Under p=none DMARC asks nothing, yet the failing spoof is still not allowed: the listing sends it to Junk
        // (from a listed network without history, so that the listing alone is the evidence).
        Assert.StartsWith("250 ", await fixture.SendMxAsync("x@evil.example", mona,
            $"From: <alerts@nonebank.example>\r\nTo: {mona}\r\nSubject: urgent\r\n\r\nVerify your account.\r\n", IPAddress.Parse("127.0.1.2")));
        var junked = Assert.Single(await fixture.ReadFolder(mona, "Junk", 1));
        Assert.Contains("ALLOW_UNVERIFIED", junked.Headers["X-Spam-Status"]);
        Assert.Equal(1, await fixture.FolderCount(mona, "INBOX"));
    }

    [Fact]
    public async Task Domain_and_user_block_lists_refuse_the_sender()
    {
        await fixture.NewAccount("nina");
        await fixture.NewAccount("otto");
        Assert.Equal(HttpStatusCode.Created, (await fixture.Post($"/api/v1/domains/{Domain}/sender-lists", new { list = "block", entry = "spam.example" })).StatusCode);
        var domainLists = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{Domain}/sender-lists");
        Assert.Contains(domainLists.EnumerateArray(), e => e.GetProperty("entry").GetString() == "spam.example" && e.GetProperty("list").GetString() == "block");
        var reply = await fixture.SendMxAsync("promo@mx.spam.example", $"nina@{Domain}", $"From: <promo@spam.example>\r\nTo: nina@{Domain}\r\nSubject: hi\r\n\r\nHello.\r\n");
        Assert.StartsWith("550 5.7.1", reply);
        Assert.Contains("DOMAIN_BLOCK", reply);

        // Otto blocks one address of plain.example for himself; Nina still gets its mail.
        Assert.Equal(HttpStatusCode.Created, (await fixture.Post($"/api/v1/accounts/otto@{Domain}/sender-lists", new { list = "block", entry = "pest@plain.example" })).StatusCode);
        Assert.StartsWith("550 5.7.1", await fixture.SendMxAsync("pest@plain.example", $"otto@{Domain}", $"From: <pest@plain.example>\r\nTo: otto@{Domain}\r\nSubject: again\r\n\r\nMe again.\r\n"));
        Assert.StartsWith("250 ", await fixture.SendMxAsync("pest@plain.example", $"nina@{Domain}", $"From: <pest@plain.example>\r\nTo: nina@{Domain}\r\nSubject: again\r\n\r\nMe again.\r\n"));

        // Removing the entry lets the sender through again.
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.DeleteAsync($"/api/v1/accounts/otto@{Domain}/sender-lists?list=block&entry=pest@plain.example")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Host.Http.DeleteAsync($"/api/v1/accounts/otto@{Domain}/sender-lists?list=block&entry=pest@plain.example")).StatusCode);
        Assert.StartsWith("250 ", await fixture.SendMxAsync("pest@plain.example", $"otto@{Domain}", $"From: <pest@plain.example>\r\nTo: otto@{Domain}\r\nSubject: again\r\n\r\nMe again.\r\n"));
    }

    [Fact]
    public async Task The_user_lists_and_releases_their_own_quarantine_and_gets_a_digest_of_what_was_held()
    {
        await fixture.Post("/api/v1/domains", new { name = "hold.test" });
        await fixture.NewAccount("quinn", "hold.test");
        await fixture.NewAccount("rita", "hold.test");
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/hold.test/spam-policy", new { junkAt = -100, quarantineAt = -100, rejectAt = 100 })).StatusCode);
        foreach (var subject in new[] { "first held", "second held" })
        {
            Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", "quinn@hold.test",
                $"From: <news@plain.example>\r\nTo: quinn@hold.test\r\nSubject: {subject}\r\n\r\nHeld for review.\r\n"));
        }
        using var quinn = fixture.UserClient("quinn@hold.test");
        using var rita = fixture.UserClient("rita@hold.test");
        var held = (await quinn.GetFromJsonAsync<JsonElement>("/api/v1/me/quarantine")).EnumerateArray().ToList();
        Assert.Equal(2, held.Count);
        Assert.Equal(0, (await rita.GetFromJsonAsync<JsonElement>("/api/v1/me/quarantine")).GetArrayLength());
        Assert.Equal(0, await fixture.InboxCount("quinn@hold.test"));

        // The digest lists both, once: a second run right after sends nothing.
        Assert.Equal(1440, (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/domains/hold.test/quarantine/digest")).GetProperty("intervalMinutes").GetDouble());
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/hold.test/quarantine/digest", new { intervalMinutes = 0 })).StatusCode);
        var sent = await fixture.Host.Http.PostAsync("/api/v1/domains/hold.test/quarantine/digest/send", null);
        Assert.Equal(1, (await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sent").GetInt32());
        var digest = Assert.Single(await fixture.ReadFolder("quinn@hold.test", "INBOX", 1));
        Assert.Equal("Quarantine digest: 2 message(s) held", digest.Subject);
        var text = digest.TextBody;
        Assert.Contains("first held", text);
        Assert.Contains("second held", text);
        Assert.Contains(held[0].GetProperty("id").GetString()!, text);
        Assert.Contains("news@plain.example", text);
        Assert.Equal("auto-generated", digest.Headers["Auto-Submitted"]);
        var again = await fixture.Host.Http.PostAsync("/api/v1/domains/hold.test/quarantine/digest/send", null);
        Assert.Equal(0, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sent").GetInt32());

        // Someone else cannot release Quinn's message; Quinn can, and it arrives in the INBOX.
        var id = held.Single(h => h.GetProperty("receivedAt").GetDateTimeOffset() == held.Min(x => x.GetProperty("receivedAt").GetDateTimeOffset())).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NotFound, (await rita.PostAsync($"/api/v1/me/quarantine/{id}/release", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await quinn.PostAsync($"/api/v1/me/quarantine/{id}/release", null)).StatusCode);
        var inbox = await fixture.ReadFolder("quinn@hold.test", "INBOX", 2);
        Assert.Contains(inbox, m => m.Subject == "first held");
        var other = held.Single(h => h.GetProperty("id").GetString() != id).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await quinn.DeleteAsync($"/api/v1/me/quarantine/{other}")).StatusCode);
        Assert.Equal(0, (await quinn.GetFromJsonAsync<JsonElement>("/api/v1/me/quarantine")).GetArrayLength());

        // A message held after the digest is in the next one, alone.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", "quinn@hold.test",
            "From: <news@plain.example>\r\nTo: quinn@hold.test\r\nSubject: third held\r\n\r\nHeld for review.\r\n"));
        var next = await fixture.Host.Http.PostAsync("/api/v1/domains/hold.test/quarantine/digest/send", null);
        Assert.Equal(1, (await next.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sent").GetInt32());
        var digests = (await fixture.ReadFolder("quinn@hold.test", "INBOX", 3)).Where(m => (m.Subject ?? "").StartsWith("Quarantine digest", StringComparison.Ordinal)).ToList();
        var second = Assert.Single(digests, d => d.Subject == "Quarantine digest: 1 message(s) held");
        Assert.Contains("third held", second.TextBody);
        Assert.DoesNotContain("second held", second.TextBody);
    }

    // ---- helpers ----------------------------------------------------------------------------

    [Fact]
    public async Task The_operator_resets_the_global_model_by_cli_it_is_audited_and_the_same_messages_train_again()
    {
        var probe = "From: <probe@plain.example>\r\nSubject: Frobnicate quarterly widgets\r\nMessage-ID: <reset-probe@plain.example>\r\n\r\n"
            + "Frobnicate the quarterly widgets before the gizmo audit.\r\n";
        Assert.Equal("learned", await Train(probe));
        var before = await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/spam/model");
        Assert.True(before.GetProperty("spamMessages").GetInt32() >= 1);
        // Other tests of this class reset the shared node's model too: count only the resets made here.
        var resetsBefore = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?action=spam.reset&limit=1000"))
            .GetProperty("items").GetArrayLength();

        var reset = await GrainmailCli.AsOperator(fixture.Host.BaseUrl, "spam", "reset");
        Assert.True(reset.ExitCode == 0, reset.Err);
        Assert.Equal(before.GetProperty("spamMessages").GetInt32(), reset.Json.GetProperty("spamMessages").GetInt32());
        Assert.Equal(before.GetProperty("hamMessages").GetInt32(), reset.Json.GetProperty("hamMessages").GetInt32());
        var after = await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/spam/model");
        Assert.Equal(0, after.GetProperty("spamMessages").GetInt32());
        Assert.Equal(0, after.GetProperty("hamMessages").GetInt32());

        // Forgotten, not only zeroed: the same message is learned again (not "already-learned").
        Assert.Equal("learned", await Train(probe));
        var again = await fixture.Host.Http.DeleteAsync("/api/v1/spam/model");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(1, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("spamMessages").GetInt32());

        // Audited as the other spam routes are, with what was forgotten.
        var audit = await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?action=spam.reset&limit=1000");
        var entries = audit.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(resetsBefore + 2, entries.Count);
        Assert.All(entries, e => Assert.Equal("global", e.GetProperty("target").GetString()));

        // Without the token: refused.
        using var anonymous = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.DeleteAsync("/api/v1/spam/model")).StatusCode);
    }

    [Fact]
    public async Task The_global_model_trained_here_is_used_by_the_next_message_and_one_changed_in_the_database_within_seconds()
    {
        // Each silo classifies MX mail against its copy of the global model (GlobalModelCopy): a change through this node
        // ends the copy at once; a change another node (or SQL) makes is seen through the model's version (migration 0046).
        await fixture.NewAccount("gina");
        var gina = $"gina@{Domain}";
        static string Offer(int n) => $"From: <offers@plain.example>\r\nSubject: Glimmerquartz timeshare bonanza {n}\r\nMessage-ID: <offer{n}@plain.example>\r\n\r\n"
            + "Glimmerquartz timeshare bonanza: claim your lavender yacht voucher, platinum sweepstakes, exclusive glimmerquartz"
            + " membership, zero interest, instant approval, unclaimed prize vault, act before midnight, verify your sweepstakes"
            + " credentials, lavender yacht awaits, bonanza dividends guaranteed, glimmerquartz vault code inside.\r\n";
        async Task<string> Symbols(int n)
        {
            Assert.StartsWith("250 ", await fixture.SendMxAsync("offers@plain.example", gina, Offer(n)));
            var line = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{gina}/receive-log?limit=1")).EnumerateArray().Single();
            return line.GetProperty("symbols").GetString()!;
        }
        Assert.DoesNotContain("BAYES_9", await Symbols(100));

        // Trained through this node: the very next message is judged by the new counts.
        for (var i = 0; i < 6; i++) Assert.Equal("learned", await Train(Offer(i)));
        Assert.Contains("BAYES_99", await Symbols(101));
        Assert.Contains("BAYES_99", await Symbols(102));

        // Forgotten in the database behind the node's back, as another node's reset would: seen once the version is read again.
        await using (var ds = Npgsql.NpgsqlDataSource.Create(fixture.ConnectionString))
        {
            await using var del = ds.CreateCommand("DELETE FROM bayes_token WHERE owner = ''");
            Assert.True(await del.ExecuteNonQueryAsync() > 0);
        }
        var n = 103;
        await Eventually.Until(async () => !(await Symbols(n++)).Contains("BAYES_99", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            "a message classified without the global model deleted in the database", poll: TimeSpan.FromMilliseconds(200));
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.DeleteAsync("/api/v1/spam/model")).StatusCode);
    }

    [Fact]
    public async Task While_an_operator_trains_the_global_model_the_copy_is_not_read_again_at_every_learn()
    {
        // `grainmail spam train` learns message after message for a minute; each learn moves the model's version. The copy
        // used to read the whole model again at the next message after every learn (out of date again by the next learn);
        // now it waits while the version keeps moving, the messages read the global counts from PostgreSQL meanwhile, and
        // it reads the model again once the version stands still.
        await fixture.NewAccount("tamsin");
        var tamsin = $"tamsin@{Domain}";
        static string Pitch(int n) => $"From: <promo@plain.example>\r\nSubject: Quillwort condo raffle {n}\r\nMessage-ID: <quill{n}-{Guid.NewGuid():N}@plain.example>\r\n\r\n"
            + "Quillwort condo raffle: redeem your saffron jetski coupon, titanium lottery, exclusive quillwort club, no credit"
            + " check, guaranteed payout, unclaimed jackpot locker, hurry before sunrise, confirm your lottery pin, saffron"
            + " jetski waiting, raffle profits assured, quillwort locker key enclosed.\r\n";
        async Task<(double Reads, double Accepted)> CountsAsync()
        {
            var text = await fixture.Host.Http.GetStringAsync("/metrics");
            return (Prometheus.Values(text, "grainmail_storage_pg_duration_milliseconds_count", ("operation", "bayes.global_model_copy")).Sum(),
                Prometheus.Values(text, "grainmail_smtp_messages_accepted_total", ("listener", "Mx")).Sum());
        }
        async Task<string> Symbols(int n)
        {
            Assert.StartsWith("250 ", await fixture.SendMxAsync("promo@plain.example", tamsin, Pitch(n)));
            var line = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{tamsin}/receive-log?limit=1")).EnumerateArray().Single();
            return line.GetProperty("symbols").GetString()!;
        }
        Assert.DoesNotContain("BAYES_9", await Symbols(1000));
        // The exporter may serve its last scrape for a moment: a scrape is current once it counts every MX message sent.
        var (_, acceptedBefore) = await CountsAsync();
        var (readsBefore, _) = await Eventually.Value(CountsAsync, c => c.Accepted >= acceptedBefore, TimeSpan.FromSeconds(30), "a current scrape");

        try
        {
            // The train, as the CLI does it (one learn per request), with MX mail arriving between the learns.
            const int Rounds = 30;
            var readsBeforeLastMessage = 0.0;
            for (var i = 0; i < Rounds; i++)
            {
                Assert.Equal("learned", await Train(Pitch(i)));
                // The whole reads counted once the last learn is in and before the message after it (a refresh starts only for a
                // message): the copy must be read again after this. Counting from after the train's last message instead raced
                // with that read on a busy machine, where the copy could be read again before the scrape that waited for the
                // message came back, and no later read would follow (CI, session 14).
                if (i == Rounds - 1) (readsBeforeLastMessage, _) = await Eventually.Value(CountsAsync, c => c.Accepted >= acceptedBefore + i, TimeSpan.FromSeconds(30), "a scrape before the last message");
                Assert.StartsWith("250 ", await fixture.SendMxAsync("promo@plain.example", tamsin, Pitch(2000 + i)));
            }
            var (readsDuring, _) = await Eventually.Value(CountsAsync, c => c.Accepted >= acceptedBefore + Rounds, TimeSpan.FromSeconds(30), "the train's messages in /metrics");
            var reads = readsDuring - readsBefore;
            // Before: one whole read per round (30). Now: the first change at once, then after pauses of 1, 2, 4, ... s.
            Assert.True(reads <= Rounds / 3, $"the whole model was read {reads} times during a train of {Rounds} learns");

            // Classified with the trained counts all along (PostgreSQL's while the copy waited), and once the version stands
            // still the copy is read again and used.
            Assert.Contains("BAYES_99", await Symbols(3000));
            var n = 3001;
            await Eventually.Until(async () =>
            {
                Assert.Contains("BAYES_99", await Symbols(n++));
                return (await CountsAsync()).Reads > readsBeforeLastMessage;
            }, TimeSpan.FromSeconds(30), "the copy read again after the train", poll: TimeSpan.FromMilliseconds(100));
        }
        finally
        {
            // A trained global model left behind would score the other tests' mail on this shared node as spam.
            Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.DeleteAsync("/api/v1/spam/model")).StatusCode);
        }
    }

    private async Task<string> Train(string message)
    {
        var body = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(message));
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("message/rfc822");
        var r = await fixture.Host.Http.PostAsync("/api/v1/spam/train?class=spam", body);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("result").GetString()!;
    }

    private async Task ModelIs(string mailbox, int spam, int ham) =>
        await Eventually.Value(() => fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/spam/model?mailbox={mailbox}"),
            m => m.GetProperty("spamMessages").GetInt32() == spam && m.GetProperty("hamMessages").GetInt32() == ham,
            TimeSpan.FromSeconds(30), $"{mailbox}'s model at {spam} spam / {ham} ham", poll: TimeSpan.FromMilliseconds(100));
}
