using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using GrainMail.TestSupport;

namespace GrainMail.Tests;

/// <summary>
/// A host with inbound trust on, a DNS server of its own (SPF, DKIM keys made by python3-dkim's
/// dknewkey, DMARC records, two blocklists) and a key to sign with by dkimsign, an independent signer.
/// </summary>
public sealed class TrustHostFixture : SmtpHostFixture
{
    public TestDnsServer Dns { get; } = new();
    public string KeyDirectory { get; } = Directory.CreateTempSubdirectory("grainmail-trust-").FullName;
    public string KeyFile => Path.Combine(KeyDirectory, "sel.key");

    public TrustHostFixture()
    {
        DebianTool.Run("dknewkey", "--ktype rsa sel", "python3-dkim", KeyDirectory);
        var key = File.ReadAllText(Path.Combine(KeyDirectory, "sel.dns")).Trim();
        // Signs its mail and sends from loopback: SPF and DKIM pass, DMARC p=reject passes.
        Dns.Txt["signed.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        Dns.Txt["_dmarc.signed.example"] = ["v=DMARC1; p=reject"];
        Dns.Txt["sel._domainkey.signed.example"] = [key];
        // p=reject, and loopback is not its sender: only a valid signature could save its mail.
        TrustSenders.Reject(Dns);
        Dns.Txt["sel._domainkey.reject.example"] = [key];
        // p=quarantine, nothing passes.
        Dns.Txt["quarantine.example"] = ["v=spf1 -all"];
        Dns.Txt["_dmarc.quarantine.example"] = ["v=DMARC1; p=quarantine"];
        // SPF pass, no DMARC record: the blocklists decide.
        TrustSenders.Plain(Dns);
        // 127.0.0.2: listed in bl1; bl2 answers with the error code lists give to refused resolvers.
        Dns.A["2.0.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
        Dns.A["2.0.0.127.bl2.test"] = IPAddress.Parse("127.255.255.254");
        // 127.0.0.3: listed in both.
        Dns.A["3.0.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
        Dns.A["3.0.0.127.bl2.test"] = IPAddress.Parse("127.0.0.4");
        // SPF passes from loopback and aligns with From: DMARC passes (p=none), so the From domain has a reputation of its own.
        Dns.Txt["brand.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        Dns.Txt["_dmarc.brand.example"] = ["v=DMARC1; p=none"];
        Dns.Txt["victim.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        Dns.Txt["_dmarc.victim.example"] = ["v=DMARC1; p=none"];
        // 127.0.1.5, a network of its own for the reputation test: listed once.
        Dns.A["5.1.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_TRUST"] = "true",
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_DNSBL"] = "bl1.test,bl2.test",
        ["GrainMail__AllowPlaintextAuth"] = "true",
    };
}

/// <summary>Inbound trust end to end: real SMTP on the MX port, verdicts read back over IMAP and the admin API.</summary>
public sealed class TrustEndToEndTests(TrustHostFixture fixture) : IClassFixture<TrustHostFixture>
{
    private const string Domain = SmtpHostFixture.Domain;
    private const string AuthServId = "mx.grainmail.test";

    [Fact]
    public async Task Mail_signed_by_dkimsign_passes_and_carries_one_authentication_results_and_the_spam_status()
    {
        var signed = Sign($"From: Sender <news@signed.example>\r\nTo: alice@{Domain}\r\nSubject: signed\r\nDate: Tue, 01 Dec 2026 08:00:00 +0000\r\nMessage-ID: <s1@signed.example>\r\n\r\nHello Alice,\r\nsigned mail.\r\n", "signed.example");
        // A forged verdict under our authserv-id, as a spammer would add it: it must not survive.
        var forged = $"Authentication-Results: {AuthServId}; dkim=pass header.d=bank.example\r\n" + signed;
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@signed.example", $"alice@{Domain}", forged));

        var message = Assert.Single(await fixture.ReadFolder($"alice@{Domain}", "INBOX", 1));
        var results = message.Headers.Where(h => h.Id == HeaderId.AuthenticationResults).Select(h => h.Value).ToList();
        var ours = Assert.Single(results, r => r.TrimStart().StartsWith(AuthServId, StringComparison.OrdinalIgnoreCase));
        Assert.Contains("spf=pass smtp.mailfrom=news@signed.example", ours);
        Assert.Contains("dkim=pass header.d=signed.example", ours);
        Assert.Contains("dmarc=pass", ours);
        Assert.DoesNotContain("bank.example", string.Join("\n", results));
        var status = message.Headers["X-Spam-Status"];
        Assert.StartsWith("No, score=", status);
        Assert.Contains("DKIM_PASS", status);

        var log = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/alice@{Domain}/receive-log");
        var line = log.EnumerateArray().First();
        Assert.Equal("deliver", line.GetProperty("action").GetString());
        Assert.Contains("DMARC_PASS", line.GetProperty("symbols").GetString());
    }

    [Fact]
    public async Task A_changed_body_under_dmarc_reject_is_refused_with_550_5_7_1_and_logged()
    {
        var signed = Sign($"From: <pay@reject.example>\r\nTo: bob@{Domain}\r\nSubject: invoice\r\nDate: Tue, 01 Dec 2026 08:00:00 +0000\r\nMessage-ID: <r1@reject.example>\r\n\r\nPay 100 to account 1.\r\n", "reject.example");
        var tampered = signed.Replace("Pay 100", "Pay 900", StringComparison.Ordinal);
        var reply = await fixture.SendMxAsync("pay@reject.example", $"bob@{Domain}", tampered);
        Assert.StartsWith("550 5.7.1", reply);
        Assert.Contains("DMARC", reply);

        var log = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/bob@{Domain}/receive-log");
        var line = log.EnumerateArray().First();
        Assert.Equal("reject", line.GetProperty("action").GetString());
        Assert.Contains("dkim=fail", line.GetProperty("authenticationResults").GetString());
        Assert.Equal(0, await fixture.InboxCount($"bob@{Domain}"));
    }

    [Fact]
    public async Task Dmarc_quarantine_that_fails_is_delivered_to_junk()
    {
        Assert.StartsWith("250 ", await fixture.SendMxAsync("offers@quarantine.example", $"carol@{Domain}",
            $"From: <offers@quarantine.example>\r\nTo: carol@{Domain}\r\nSubject: offer\r\n\r\nBuy now.\r\n"));
        var message = Assert.Single(await fixture.ReadFolder($"carol@{Domain}", "Junk", 1));
        Assert.StartsWith("Yes,", message.Headers["X-Spam-Status"]);
        Assert.Contains("dmarc=fail policy.dmarc=quarantine", message.Headers[HeaderId.AuthenticationResults]);
        Assert.Equal(0, await fixture.FolderCount($"carol@{Domain}", "INBOX"));
    }

    [Fact]
    public async Task One_blocklist_listing_delivers_an_error_answer_is_no_listing_and_two_listings_reject()
    {
        // 127.0.0.2: listed in bl1 (127.0.0.2), bl2 answers 127.255.255.254 (an error, not a listing).
        Assert.StartsWith("250 ", await fixture.SendMxAsync("hello@plain.example", $"dave@{Domain}",
            $"From: <hello@plain.example>\r\nTo: dave@{Domain}\r\nSubject: one\r\n\r\nOne listing.\r\n", IPAddress.Parse("127.0.0.2")));
        var message = Assert.Single(await fixture.ReadFolder($"dave@{Domain}", "Junk", 1));
        var status = message.Headers["X-Spam-Status"];
        Assert.Contains("RBL_BL1_TEST(7.0)", status);
        Assert.Contains("RBL_BL2_TEST_ERROR(0.0)", status);
        Assert.DoesNotContain("RBL_BL2_TEST(", status);

        // 127.0.0.3: listed in both: refused at DATA.
        var reply = await fixture.SendMxAsync("hello@plain.example", $"dave@{Domain}",
            $"From: <hello@plain.example>\r\nTo: dave@{Domain}\r\nSubject: two\r\n\r\nTwo listings.\r\n", IPAddress.Parse("127.0.0.3"));
        Assert.StartsWith("550 5.7.1", reply);
        Assert.Contains("RBL_BL1_TEST", reply);
    }

    [Fact]
    public async Task Authenticated_submission_is_not_scored()
    {
        using (var smtp = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await smtp.ConnectAsync("127.0.0.1", fixture.Submission, SecureSocketOptions.StartTls);
            await smtp.AuthenticateAsync($"frank@{Domain}", SmtpHostFixture.Password);
            var m = new MimeMessage();
            m.From.Add(MailboxAddress.Parse($"frank@{Domain}"));
            m.To.Add(MailboxAddress.Parse($"erin@{Domain}"));
            m.Subject = "internal";
            m.Body = new TextPart("plain") { Text = "From a colleague." };
            await smtp.SendAsync(m);
            await smtp.DisconnectAsync(true);
        }
        var message = Assert.Single(await fixture.ReadFolder($"erin@{Domain}", "INBOX", 1));
        Assert.Null(message.Headers["X-Spam-Status"]);
        Assert.Null(message.Headers[HeaderId.AuthenticationResults]);
    }

    [Fact]
    public async Task A_domain_policy_turns_dmarc_reject_into_junk_and_is_validated()
    {
        await fixture.Post("/api/v1/domains", new { name = "soft.test" });
        await fixture.NewAccount("gina", "soft.test");
        var bad = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/soft.test/spam-policy", new { junkAt = 10, rejectAt = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        // Thresholds out of reach: only DMARC's own request can send this mail anywhere but the INBOX.
        var put = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/soft.test/spam-policy",
            new { dmarcReject = "junk", junkAt = 20, quarantineAt = 25, rejectAt = 30 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var policy = await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/domains/soft.test/spam-policy");
        Assert.Equal("junk", policy.GetProperty("dmarcReject").GetString());
        Assert.Equal(30, policy.GetProperty("rejectAt").GetDouble());

        var unsigned = "From: <pay@reject.example>\r\nTo: gina@soft.test\r\nSubject: unsigned\r\n\r\nNo signature.\r\n";
        // Under the default policy the same message is refused.
        Assert.StartsWith("550 5.7.1", await fixture.SendMxAsync("pay@reject.example", $"frank@{Domain}", unsigned));
        Assert.StartsWith("250 ", await fixture.SendMxAsync("pay@reject.example", "gina@soft.test", unsigned));
        Assert.Single(await fixture.ReadFolder("gina@soft.test", "Junk", 1));
    }

    [Fact]
    public async Task A_policy_change_applies_to_the_next_message_though_the_silo_has_just_read_the_policy()
    {
        // The MX path keeps each domain's policy on the silo (SpamPolicyView); a change must not wait for that copy to age.
        await fixture.Post("/api/v1/domains", new { name = "turn.test" });
        await fixture.NewAccount("ivy", "turn.test");
        var unsigned = "From: <pay@reject.example>\r\nTo: ivy@turn.test\r\nSubject: unsigned\r\n\r\nNo signature.\r\n";
        // Read just now under the default policy: the sender's DMARC p=reject refuses it.
        Assert.StartsWith("550 5.7.1", await fixture.SendMxAsync("pay@reject.example", "ivy@turn.test", unsigned));

        var soften = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/turn.test/spam-policy",
            new { dmarcReject = "junk", junkAt = 20, quarantineAt = 25, rejectAt = 30 });
        Assert.Equal(HttpStatusCode.OK, soften.StatusCode);
        Assert.StartsWith("250 ", await fixture.SendMxAsync("pay@reject.example", "ivy@turn.test", unsigned));
        Assert.Single(await fixture.ReadFolder("ivy@turn.test", "Junk", 1));

        var harden = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/turn.test/spam-policy",
            new { dmarcReject = "reject", junkAt = 20, quarantineAt = 25, rejectAt = 30 });
        Assert.Equal(HttpStatusCode.OK, harden.StatusCode);
        Assert.StartsWith("550 5.7.1", await fixture.SendMxAsync("pay@reject.example", "ivy@turn.test", unsigned));
    }

    [Fact]
    public async Task Quarantined_mail_is_held_outside_the_mailbox_until_released_or_deleted()
    {
        await fixture.Post("/api/v1/domains", new { name = "held.test" });
        await fixture.NewAccount("hank", "held.test");
        var put = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/held.test/spam-policy", new { junkAt = -100, quarantineAt = -100, rejectAt = 100 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        foreach (var subject in new[] { "keep", "drop" })
        {
            Assert.StartsWith("250 ", await fixture.SendMxAsync("hello@plain.example", "hank@held.test",
                $"From: <hello@plain.example>\r\nTo: hank@held.test\r\nSubject: {subject}\r\n\r\nHeld.\r\n"));
        }
        var held = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/accounts/hank@held.test/quarantine")).EnumerateArray().ToList();
        Assert.Equal(2, held.Count);
        Assert.Equal(2, (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/domains/held.test/quarantine")).GetArrayLength());
        Assert.Equal(0, await fixture.InboxCount("hank@held.test"));

        Assert.Equal(HttpStatusCode.Accepted, (await fixture.Host.Http.PostAsync($"/api/v1/quarantine/{held[0].GetProperty("id").GetString()}/release", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.DeleteAsync($"/api/v1/quarantine/{held[1].GetProperty("id").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Host.Http.DeleteAsync($"/api/v1/quarantine/{held[1].GetProperty("id").GetString()}")).StatusCode);
        var released = Assert.Single(await fixture.ReadFolder("hank@held.test", "INBOX", 1));
        Assert.Contains("action=quarantine", released.Headers["X-Spam-Status"]);
        Assert.Equal(0, (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/accounts/hank@held.test/quarantine")).GetArrayLength());
    }

    [Fact]
    public async Task A_network_that_keeps_sending_spam_earns_a_bad_reputation_that_adds_to_the_score()
    {
        await fixture.NewAccount("ivan");
        var from = IPAddress.Parse("127.0.1.5");
        string Message(int i) => $"From: <hello@plain.example>\r\nTo: ivan@{Domain}\r\nSubject: batch {i}\r\n\r\nListed once.\r\n";
        // Each is Junk by its one listing (6.5) and counted as spam for 127.0.1.0/24.
        for (var i = 0; i < 20; i++) Assert.StartsWith("250 ", await fixture.SendMxAsync("hello@plain.example", $"ivan@{Domain}", Message(i), from));
        var first = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ivan@{Domain}/receive-log?limit=1000")).EnumerateArray().Last();
        Assert.DoesNotContain("REP_NET", first.GetProperty("symbols").GetString());
        // Counting is fire-and-forget: the next messages see the history once it has arrived.
        JsonElement newest = default;
        for (var i = 20; i < 26; i++)
        {
            await fixture.SendMxAsync("hello@plain.example", $"ivan@{Domain}", Message(i), from);
            newest = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ivan@{Domain}/receive-log?limit=1")).EnumerateArray().Single();
            if (newest.GetProperty("symbols").GetString()!.Contains("REP_NET_BAD", StringComparison.Ordinal)) break;
        }
        Assert.Contains("REP_NET_BAD(4.0)", newest.GetProperty("symbols").GetString());
        Assert.Equal("quarantine", newest.GetProperty("action").GetString());
    }

    [Fact]
    public async Task Junk_moves_correct_the_reputation_of_the_sending_network_once_per_message()
    {
        await fixture.NewAccount("pia");
        var pia = $"pia@{Domain}";
        var from = IPAddress.Parse("127.0.2.7"); // 127.0.2.0/24: no listing, no history
        string Message(int i) => $"From: <news@plain.example>\r\nTo: {pia}\r\nSubject: issue {i}\r\nMessage-ID: <n{i}@plain.example>\r\n\r\nIssue {i} of the news.\r\n";
        // 22 clean messages: delivered, counted as ham (a history of 20 is needed to judge; the counts decay a little).
        for (var i = 0; i < 22; i++) Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", pia, Message(i), from));
        var inbox = await fixture.ReadFolder(pia, "INBOX", 22);
        Assert.All(inbox, m => Assert.StartsWith("No,", m.Headers["X-Spam-Status"]));
        Assert.Contains("net=net:127.0.2.0/24", inbox[0].Headers["X-Spam-Origin"]);

        // Pia says 15 of them are spam (COPY into Junk), and says it again: counted once.
        await MarkJunk(pia, 15, 0);
        await MarkJunk(pia, 15, 0);
        // One more into Junk: when the learner has done that, it has done the two above.
        await fixture.WithImap(pia, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var uid = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("issue 15"))).Single();
            await imap.Inbox.CopyToAsync(uid, await imap.GetFolderAsync("Junk"));
        });
        await ModelIs(pia, 16, 0);

        // 16 of 22 now count as spam (73%: REP_NET_BAD 1.8); had the repeat counted too it would be all of them (4.0).
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", pia, Message(22), from));
        var bad = RepNetBad(await NewestLogLine(pia));
        Assert.InRange(bad, 1.6, 2.0);

        // She changes her mind on all of them (out of Junk into the INBOX): the network is no longer bad.
        await fixture.WithImap(pia, async imap =>
        {
            var junk = await imap.GetFolderAsync("Junk");
            await junk.OpenAsync(FolderAccess.ReadWrite);
            await junk.MoveToAsync(await junk.SearchAsync(MailKit.Search.SearchQuery.All), imap.Inbox);
        });
        // (The message just sent may have gone to Junk on Pia's model and come out with the others.)
        await Eventually.Value(() => fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/spam/model?mailbox={pia}"),
            m => m.GetProperty("spamMessages").GetInt32() == 0 && m.GetProperty("hamMessages").GetInt32() >= 16,
            TimeSpan.FromSeconds(30), $"{pia}'s model relearned as ham", poll: TimeSpan.FromMilliseconds(100));
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", pia, Message(23), from));
        var symbols = (await NewestLogLine(pia)).GetProperty("symbols").GetString()!;
        Assert.DoesNotContain("REP_NET_BAD", symbols);
        Assert.Contains("REP_NET_GOOD", symbols);
    }

    [Fact]
    public async Task Junk_moves_correct_the_aligned_sender_domain_and_a_forged_origin_header_charges_nobody()
    {
        await fixture.NewAccount("quin");
        await fixture.NewAccount("rosa");
        var (quin, rosa) = ($"quin@{Domain}", $"rosa@{Domain}");
        string From(string sender, string to, string subject, string? extraHeader = null) =>
            $"From: <{sender}>\r\nTo: {to}\r\n{extraHeader}Subject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@x.example>\r\n\r\nText of {subject}.\r\n";
        // Each domain builds a clean history of 22 (DMARC passes by aligned SPF), from a network of its own.
        for (var i = 0; i < 22; i++)
        {
            Assert.StartsWith("250 ", await fixture.SendMxAsync("news@brand.example", quin, From("news@brand.example", quin, $"brand {i}"), IPAddress.Parse("127.0.3.9")));
            Assert.StartsWith("250 ", await fixture.SendMxAsync("news@victim.example", rosa, From("news@victim.example", rosa, $"victim {i}"), IPAddress.Parse("127.0.6.9")));
        }
        var brand = await fixture.ReadFolder(quin, "INBOX", 22);
        Assert.Contains("domain=domain:brand.example", brand[0].Headers["X-Spam-Origin"]);

        // Quin says 16 of brand.example's messages are spam: the network's and the domain's counts are corrected.
        await MarkJunk(quin, 16, 0);
        await ModelIs(quin, 16, 0);

        // Rosa junks 24 messages that claim (in a header of their own) to have been counted for victim.example:
        // 8 through our MX (our X-Spam-Origin in front of theirs) and 8 appended by her client (only theirs), with
        // a made-up MAC; and 8 appended with a genuine header copied from one of victim.example's messages.
        const string forged = "X-Spam-Origin: net=net:127.0.6.0/24; domain=domain:victim.example; counted=ham; mac=00112233445566778899aabbccddeeff\r\n";
        var genuine = $"X-Spam-Origin: {(await fixture.ReadFolder(rosa, "INBOX", 22))[0].Headers["X-Spam-Origin"]}\r\n";
        Assert.Contains("domain=domain:victim.example", genuine);
        for (var i = 0; i < 8; i++)
            Assert.StartsWith("250 ", await fixture.SendMxAsync("offers@plain.example", rosa, From("offers@plain.example", rosa, $"offer {i}", forged), IPAddress.Parse("127.0.5.9")));
        await fixture.ReadFolder(rosa, "INBOX", 30);
        await fixture.WithImap(rosa, async imap =>
        {
            for (var i = 8; i < 24; i++)
            {
                var text = From("offers@plain.example", rosa, $"offer {i}", i < 16 ? forged : genuine);
                await imap.Inbox.AppendAsync(MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(text))));
            }
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await imap.Inbox.CopyToAsync(await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("offer")), await imap.GetFolderAsync("Junk"));
        });
        await ModelIs(rosa, 24, 0);

        // brand.example from a network with no history: its domain is now judged bad (16 of 22 spam).
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@brand.example", quin, From("news@brand.example", quin, "brand later"), IPAddress.Parse("127.0.4.9")));
        var brandLine = (await NewestLogLine(quin)).GetProperty("symbols").GetString()!;
        Assert.Contains("REP_DOMAIN_BAD", brandLine);
        Assert.DoesNotContain("REP_NET", brandLine);
        // victim.example kept its clean record, and so did its network: the forged headers counted for nothing,
        // the copied genuine one once (1 of 22 is still under a tenth).
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@victim.example", rosa, From("news@victim.example", rosa, "victim later"), IPAddress.Parse("127.0.6.9")));
        var victimLine = (await NewestLogLine(rosa)).GetProperty("symbols").GetString()!;
        Assert.Contains("REP_DOMAIN_GOOD", victimLine);
        Assert.Contains("REP_NET_GOOD", victimLine);
        Assert.DoesNotContain("REP_DOMAIN_BAD", victimLine);
        Assert.DoesNotContain("REP_NET_BAD", victimLine);
    }

    private async Task MarkJunk(string address, int count, int skip) =>
        await fixture.WithImap(address, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var uids = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All)).Skip(skip).Take(count).ToList();
            await imap.Inbox.CopyToAsync(uids, await imap.GetFolderAsync("Junk"));
        });

    private async Task ModelIs(string mailbox, int spam, int ham) =>
        await Eventually.Value(() => fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/spam/model?mailbox={mailbox}"),
            m => m.GetProperty("spamMessages").GetInt32() == spam && m.GetProperty("hamMessages").GetInt32() == ham,
            TimeSpan.FromSeconds(30), $"{mailbox}'s model at {spam} spam / {ham} ham", poll: TimeSpan.FromMilliseconds(100));

    private async Task<JsonElement> NewestLogLine(string address) =>
        (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/receive-log?limit=1")).EnumerateArray().Single();

    private static double RepNetBad(JsonElement line)
    {
        var symbols = line.GetProperty("symbols").GetString()!;
        var match = System.Text.RegularExpressions.Regex.Match(symbols, @"REP_NET_BAD\(([0-9.]+)\)");
        Assert.True(match.Success, symbols);
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private string Sign(string message, string domain) => DebianTool.Run("dkimsign", $"sel {domain} {fixture.KeyFile}", "python3-dkim", fixture.KeyDirectory, message);
}
