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
        Dns.Txt["reject.example"] = ["v=spf1 ip4:192.0.2.1 -all"];
        Dns.Txt["_dmarc.reject.example"] = ["v=DMARC1; p=reject"];
        Dns.Txt["sel._domainkey.reject.example"] = [key];
        // p=quarantine, nothing passes.
        Dns.Txt["quarantine.example"] = ["v=spf1 -all"];
        Dns.Txt["_dmarc.quarantine.example"] = ["v=DMARC1; p=quarantine"];
        // SPF pass, no DMARC record: the blocklists decide.
        Dns.Txt["plain.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];
        // 127.0.0.2: listed in bl1; bl2 answers with the error code lists give to refused resolvers.
        Dns.A["2.0.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
        Dns.A["2.0.0.127.bl2.test"] = IPAddress.Parse("127.255.255.254");
        // 127.0.0.3: listed in both.
        Dns.A["3.0.0.127.bl1.test"] = IPAddress.Parse("127.0.0.2");
        Dns.A["3.0.0.127.bl2.test"] = IPAddress.Parse("127.0.0.4");
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
        Assert.StartsWith("250 ", await SendAsync("news@signed.example", $"alice@{Domain}", forged));

        var message = Assert.Single(await ReadAsync($"alice@{Domain}", "INBOX", 1));
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
        var reply = await SendAsync("pay@reject.example", $"bob@{Domain}", tampered);
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
        Assert.StartsWith("250 ", await SendAsync("offers@quarantine.example", $"carol@{Domain}",
            $"From: <offers@quarantine.example>\r\nTo: carol@{Domain}\r\nSubject: offer\r\n\r\nBuy now.\r\n"));
        var message = Assert.Single(await ReadAsync($"carol@{Domain}", "Junk", 1));
        Assert.StartsWith("Yes,", message.Headers["X-Spam-Status"]);
        Assert.Contains("dmarc=fail policy.dmarc=quarantine", message.Headers[HeaderId.AuthenticationResults]);
        Assert.Equal(0, await FolderCount($"carol@{Domain}", "INBOX"));
    }

    [Fact]
    public async Task One_blocklist_listing_delivers_an_error_answer_is_no_listing_and_two_listings_reject()
    {
        // 127.0.0.2: listed in bl1 (127.0.0.2), bl2 answers 127.255.255.254 (an error, not a listing).
        Assert.StartsWith("250 ", await SendAsync("hello@plain.example", $"dave@{Domain}",
            $"From: <hello@plain.example>\r\nTo: dave@{Domain}\r\nSubject: one\r\n\r\nOne listing.\r\n", IPAddress.Parse("127.0.0.2")));
        var message = Assert.Single(await ReadAsync($"dave@{Domain}", "Junk", 1));
        var status = message.Headers["X-Spam-Status"];
        Assert.Contains("RBL_BL1_TEST(7.0)", status);
        Assert.Contains("RBL_BL2_TEST_ERROR(0.0)", status);
        Assert.DoesNotContain("RBL_BL2_TEST(", status);

        // 127.0.0.3: listed in both: refused at DATA.
        var reply = await SendAsync("hello@plain.example", $"dave@{Domain}",
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
        var message = Assert.Single(await ReadAsync($"erin@{Domain}", "INBOX", 1));
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
        Assert.StartsWith("550 5.7.1", await SendAsync("pay@reject.example", $"frank@{Domain}", unsigned));
        Assert.StartsWith("250 ", await SendAsync("pay@reject.example", "gina@soft.test", unsigned));
        Assert.Single(await ReadAsync("gina@soft.test", "Junk", 1));
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
            Assert.StartsWith("250 ", await SendAsync("hello@plain.example", "hank@held.test",
                $"From: <hello@plain.example>\r\nTo: hank@held.test\r\nSubject: {subject}\r\n\r\nHeld.\r\n"));
        }
        var held = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/accounts/hank@held.test/quarantine")).EnumerateArray().ToList();
        Assert.Equal(2, held.Count);
        Assert.Equal(2, (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/domains/held.test/quarantine")).GetArrayLength());
        Assert.Equal(0, await fixture.InboxCount("hank@held.test"));

        Assert.Equal(HttpStatusCode.Accepted, (await fixture.Host.Http.PostAsync($"/api/v1/quarantine/{held[0].GetProperty("id").GetString()}/release", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.DeleteAsync($"/api/v1/quarantine/{held[1].GetProperty("id").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Host.Http.DeleteAsync($"/api/v1/quarantine/{held[1].GetProperty("id").GetString()}")).StatusCode);
        var released = Assert.Single(await ReadAsync("hank@held.test", "INBOX", 1));
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
        for (var i = 0; i < 20; i++) Assert.StartsWith("250 ", await SendAsync("hello@plain.example", $"ivan@{Domain}", Message(i), from));
        var first = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ivan@{Domain}/receive-log?limit=1000")).EnumerateArray().Last();
        Assert.DoesNotContain("REP_NET", first.GetProperty("symbols").GetString());
        // Counting is fire-and-forget: the next messages see the history once it has arrived.
        JsonElement newest = default;
        for (var i = 20; i < 26; i++)
        {
            await SendAsync("hello@plain.example", $"ivan@{Domain}", Message(i), from);
            newest = (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/ivan@{Domain}/receive-log?limit=1")).EnumerateArray().Single();
            if (newest.GetProperty("symbols").GetString()!.Contains("REP_NET_BAD", StringComparison.Ordinal)) break;
        }
        Assert.Contains("REP_NET_BAD(4.0)", newest.GetProperty("symbols").GetString());
        Assert.Equal("quarantine", newest.GetProperty("action").GetString());
    }

    // ---- helpers ----------------------------------------------------------------------------

    private string Sign(string message, string domain) => DebianTool.Run("dkimsign", $"sel {domain} {fixture.KeyFile}", "python3-dkim", fixture.KeyDirectory, message);

    /// <summary>One message over the MX port from <paramref name="from"/> (127.0.0.1 unless given); the reply to the end of DATA.</summary>
    private async Task<string> SendAsync(string sender, string recipient, string message, IPAddress? from = null)
    {
        var (smtp, greeting) = await RawSmtp.ConnectAsync(fixture.Mx, from: from);
        await using (smtp)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await smtp.CommandAsync("EHLO client.example"));
            Assert.StartsWith("250", await smtp.CommandAsync($"MAIL FROM:<{sender}>"));
            Assert.StartsWith("250", await smtp.CommandAsync($"RCPT TO:<{recipient}>"));
            Assert.StartsWith("354", await smtp.CommandAsync("DATA"));
            var body = message.Replace("\r\n", "\n").Replace("\n", "\r\n");
            if (!body.EndsWith("\r\n", StringComparison.Ordinal)) body += "\r\n";
            body = body.Replace("\r\n.", "\r\n..", StringComparison.Ordinal);
            await smtp.SendRawAsync(body + ".\r\n");
            var reply = await smtp.ReadReplyAsync();
            await smtp.CommandAsync("QUIT");
            return reply;
        }
    }

    private async Task<int> FolderCount(string address, string folder)
    {
        var box = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox");
        return box.GetProperty("folders").EnumerateArray().Where(f => f.GetProperty("name").GetString() == folder)
            .Select(f => f.GetProperty("messages").GetInt32()).FirstOrDefault();
    }

    /// <summary>Waits for <paramref name="count"/> messages in a folder and reads them back over IMAP.</summary>
    private async Task<List<MimeMessage>> ReadAsync(string address, string folder, int count)
    {
        await Eventually.Value(() => FolderCount(address, folder), n => n >= count, TimeSpan.FromSeconds(30), $"{count} message(s) in {address} {folder}",
            poll: TimeSpan.FromMilliseconds(100));
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", fixture.Imap, SecureSocketOptions.StartTls);
        await imap.AuthenticateAsync(address, SmtpHostFixture.Password);
        var box = folder == "INBOX" ? imap.Inbox : await imap.GetFolderAsync(folder);
        await box.OpenAsync(FolderAccess.ReadOnly);
        var list = new List<MimeMessage>();
        for (var i = 0; i < box.Count; i++) list.Add(await box.GetMessageAsync(i));
        await imap.DisconnectAsync(true);
        return list;
    }
}
