using System.Net;
using System.Net.Http.Json;
using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

public sealed class OutboundHostFixture : SmtpHostFixture
{
    public TestDnsServer Dns { get; } = new();
    public FakeSmtpServer Remote { get; } = new();

    /// <summary>A remote that speaks DSN, on its own loopback address and the same port (the node has one outbound port).</summary>
    public FakeSmtpServer DsnRemote { get; }

    public OutboundHostFixture()
    {
        Dns.Mx["remote.test"] = [(10, "mx.remote.test")];
        Dns.A["mx.remote.test"] = IPAddress.Loopback;
        Dns.Mx["nullmx.test"] = [(0, ".")];
        // Nothing listens on 127.0.0.3: connections are refused.
        Dns.Mx["down.test"] = [(10, "mx.down.test")];
        Dns.A["mx.down.test"] = IPAddress.Parse("127.0.0.3");
        Dns.Mx["batch.example"] = [(10, "mx.batch.example")];
        Dns.A["mx.batch.example"] = IPAddress.Parse("127.0.0.3");
        DsnRemote = new FakeSmtpServer(IPAddress.Parse("127.0.0.5"), Remote.Port) { OfferDsn = true };
        Dns.Mx["dsn.test"] = [(10, "mx.dsn.test")];
        Dns.A["mx.dsn.test"] = IPAddress.Parse("127.0.0.5");
        Remote.FinalReplyDelay = to => to.Any(r => r.StartsWith("slowfilter", StringComparison.Ordinal)) ? TimeSpan.FromSeconds(5) : null;
        Remote.RcptReply = (rcpt, attempt) => rcpt switch
        {
            _ when rcpt.StartsWith("nobody", StringComparison.Ordinal) => $"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
            _ when rcpt.StartsWith("later", StringComparison.Ordinal) && attempt == 0 => "451 4.3.0 Greylisted, try again later",
            _ => "250 2.1.5 OK",
        };
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_SMTP_OUT_PORT"] = Remote.Port.ToString(),
        ["GrainMail__OutboundRetrySchedule__0"] = "00:00:01",
        ["GrainMail__OutboundRetrySchedule__1"] = "00:00:02",
        ["GrainMail__OutboundDelayNoticeAfter"] = "00:00:05",
        ["GrainMail__OutboundAccountRecipientsPerHour"] = "6",
        // Short waits for replies, a longer one for the final dot: the slow-filter test needs both.
        ["GrainMail__Outbound__ReplyTimeout"] = "00:00:02",
        ["GrainMail__Outbound__DataTimeout"] = "00:00:30",
    };
}

/// <summary>Submission to external recipients: committed to the outbound stream, queued per destination, delivered by MX, retried, bounced.</summary>
public sealed class OutboundTests(OutboundHostFixture host) : IClassFixture<OutboundHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private async Task<string> NewSender()
    {
        var local = "o" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    private static MimeMessage Message(string from, IEnumerable<string> to, string subject)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        foreach (var t in to) m.To.Add(MailboxAddress.Parse(t));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = "Hello from GrainMail.\r\n.leading dot\r\n" };
        return m;
    }

    private async Task<string> Submit(string from, string password, MimeMessage m)
    {
        using var c = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(from, password);
        var reply = await c.SendAsync(m);
        await c.DisconnectAsync(true);
        return reply;
    }

    private async Task<ReceivedMessage> WaitForRemote(string recipient, FakeSmtpServer? remote = null)
    {
        remote ??= host.Remote;
        ReceivedMessage? hit = null;
        await Eventually.Until(() => (hit = remote.Received.FirstOrDefault(r => r.To.Contains(recipient))) is not null,
            TimeSpan.FromSeconds(30), $"the message for {recipient} at the remote");
        return hit!;
    }

    /// <summary>The message/delivery-status part of a report, as text.</summary>
    private static async Task<string> DeliveryStatusFields(MimeMessage report)
    {
        var status = Assert.IsType<MultipartReport>(report.Body).OfType<MimePart>().Single(p => p.ContentType.MimeType == "message/delivery-status");
        using var ms = new MemoryStream();
        await status.Content!.DecodeToAsync(ms);
        return Encoding.ASCII.GetString(ms.ToArray());
    }

    private async Task<long> QueueRows(string destination)
    {
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM outbound_message WHERE destination = @d");
        cmd.Parameters.AddWithValue("d", destination);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task An_external_message_goes_out_by_MX_in_one_transaction_per_domain_and_a_local_copy_stays()
    {
        var sender = await NewSender();
        var m = Message(sender, ["ann@remote.test", "ben@remote.test", $"bob@{D}"], "to the outside");
        Assert.StartsWith("2.0.0 Ok: queued as", await Submit(sender, SmtpHostFixture.Password, m));

        var got = await WaitForRemote("ann@remote.test");
        Assert.Equal(["ann@remote.test", "ben@remote.test"], got.To.Order().ToList());
        Assert.Equal(sender, got.From);
        var text = Encoding.UTF8.GetString(got.Data);
        // Two DKIM signatures (Ed25519 and RSA) above our Received: header, then the message as submitted.
        Assert.StartsWith("DKIM-Signature: ", text);
        Assert.Contains("\r\nReceived: from ", text);
        Assert.DoesNotContain("Return-Path:", text);
        Assert.Contains("Subject: to the outside", text);
        Assert.Contains("\r\n.leading dot\r\n", text);
        var local = await host.WaitForMessages($"bob@{D}", 1);
        Assert.Contains("Return-Path: <" + sender + ">", Encoding.UTF8.GetString(local[^1]));
        await Eventually.Until(async () => await QueueRows("remote.test") == 0, TimeSpan.FromSeconds(10), "no remote.test rows left in the outbound queue");

        // The send log has one line per recipient and attempt.
        var log = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/accounts/{sender}/sent-log");
        var lines = log.EnumerateArray().ToList();
        Assert.Equal(["ann@remote.test", "ben@remote.test"], lines.Select(l => l.GetProperty("recipient").GetString()).Order().ToList());
        Assert.All(lines, l =>
        {
            Assert.Equal("delivered", l.GetProperty("outcome").GetString());
            Assert.Equal("direct", l.GetProperty("link").GetString());
            Assert.Equal("mx.remote.test [127.0.0.1]", l.GetProperty("remote").GetString());
        });
    }

    private async Task<List<(string Type, string Name, string Value)>> DnsRecords(string domain)
    {
        var json = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/domains/{domain}/dns");
        return json.EnumerateArray().Select(r => (r.GetProperty("type").GetString()!, r.GetProperty("name").GetString()!, r.GetProperty("value").GetString()!)).ToList();
    }

    /// <summary>Looks DKIM keys up in the records the admin API tells the domain to publish.</summary>
    private sealed class ApiKeyLocator(List<(string Type, string Name, string Value)> records) : MimeKit.Cryptography.DkimPublicKeyLocatorBase
    {
        public override Org.BouncyCastle.Crypto.AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            GetPublicKey(records.Single(r => r.Name == $"{selector}._domainkey.{domain}").Value);

        public override Task<Org.BouncyCastle.Crypto.AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }

    private static async Task<List<string>> VerifiedSelectors(byte[] data, List<(string Type, string Name, string Value)> records)
    {
        var message = MimeMessage.Load(new MemoryStream(data));
        var verifier = new MimeKit.Cryptography.DkimVerifier(new ApiKeyLocator(records));
        verifier.Enable(MimeKit.Cryptography.DkimSignatureAlgorithm.Ed25519Sha256);
        var selectors = new List<string>();
        foreach (var header in message.Headers.Where(h => h.Id == HeaderId.DkimSignature))
        {
            Assert.True(await verifier.VerifyAsync(message, header), "DKIM signature does not verify: " + header.Value);
            selectors.Add(System.Text.RegularExpressions.Regex.Match(header.Value, @"s=([^;\s]+)").Groups[1].Value);
        }
        return selectors;
    }

    [Fact]
    public async Task Outgoing_mail_is_DKIM_signed_with_RSA_and_Ed25519_and_rotation_switches_keys()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["dkim1@remote.test"], "signed"));
        var first = await WaitForRemote("dkim1@remote.test");
        var records = await DnsRecords(D);
        var selectors = await VerifiedSelectors(first.Data, records);
        Assert.Equal(2, selectors.Count);
        var kinds = selectors.Select(sel => records.Single(r => r.Name == $"{sel}._domainkey.{D}").Value.Split(';')[1].Trim()).Order().ToList();
        Assert.Equal(["k=ed25519", "k=rsa"], kinds);

        var rotated = await host.Post($"/api/v1/domains/{D}/dkim/rotate", new { });
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        // Another silo would keep signing with the cached old keys for up to five minutes; the old records stay published.
        var after = await DnsRecords(D);
        Assert.Equal(4, after.Count(r => r.Name.Contains("._domainkey.")));
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["dkim2@remote.test"], "signed again"));
        var second = await WaitForRemote("dkim2@remote.test");
        var newSelectors = await VerifiedSelectors(second.Data, after);
        Assert.Empty(newSelectors.Intersect(selectors));
    }

    [Fact]
    public async Task The_DNS_records_to_publish_and_their_check()
    {
        const string domain = "published.test";
        await host.Post("/api/v1/domains", new { name = domain });
        var records = await DnsRecords(domain);
        Assert.Equal(["DKIM", "DKIM", "DMARC", "MTA-STS", "MX", "SPF"], records.Select(r => r.Value switch
        {
            var v when v.StartsWith("v=DMARC1") => "DMARC",
            var v when v.StartsWith("v=DKIM1") => "DKIM",
            var v when v.StartsWith("v=STSv1") => "MTA-STS",
            var v when v.StartsWith("v=spf1") => "SPF",
            _ => r.Type,
        }).Order().ToList());

        var check = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/domains/{domain}/dns/check");
        Assert.False(check.GetProperty("ok").GetBoolean());
        Assert.All(check.GetProperty("records").EnumerateArray(), r => Assert.Equal("missing", r.GetProperty("status").GetString()));

        // Published as told (and an SPF record that differs): the check says so record by record.
        foreach (var (type, name, value) in records.Where(r => r.Type == "TXT" && !r.Value.StartsWith("v=spf1")))
            host.Dns.Txt.AddOrUpdate(name, [value], (_, l) => [.. l, value]);
        host.Dns.Txt.AddOrUpdate(domain, ["v=spf1 -all"], (_, l) => [.. l, "v=spf1 -all"]);
        var mxHost = records.Single(r => r.Type == "MX").Value.Split(' ')[1].TrimEnd('.');
        host.Dns.Mx[domain] = [(10, mxHost)];
        check = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/domains/{domain}/dns/check");
        var statuses = check.GetProperty("records").EnumerateArray()
            .ToDictionary(r => r.GetProperty("record").GetProperty("value").GetString()!, r => r.GetProperty("status").GetString());
        Assert.Equal("different", statuses["v=spf1 mx ~all"]);
        Assert.All(statuses.Where(kv => !kv.Key.StartsWith("v=spf1")), kv => Assert.Equal("ok", kv.Value));

        // The MTA-STS policy is served for mta-sts.<domain>.
        using var req = new HttpRequestMessage(HttpMethod.Get, "/.well-known/mta-sts.txt");
        req.Headers.Host = $"mta-sts.{domain}";
        var policy = await host.Host.Http.SendAsync(req);
        Assert.Equal($"version: STSv1\nmode: testing\nmx: {mxHost}\nmax_age: 86400\n", await policy.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_account_over_its_hourly_budget_gets_a_temporary_refusal_for_external_recipients()
    {
        var sender = await NewSender();
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{sender}\0{SmtpHostFixture.Password}")));
            await c.CommandAsync($"MAIL FROM:<{sender}>");
            for (var i = 0; i < 6; i++) Assert.StartsWith("250 2.1.5", await c.CommandAsync($"RCPT TO:<many{i}@remote.test>"));
            Assert.StartsWith("450 4.7.1", await c.CommandAsync("RCPT TO:<many6@remote.test>"));
            // Local recipients are not outbound and not limited; another account has its own budget.
            Assert.StartsWith("250 2.1.5", await c.CommandAsync($"RCPT TO:<bob@{D}>"));
            await c.CommandAsync("RSET");
        }
        var other = await NewSender();
        var (d, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (d)
        {
            await d.CommandAsync("EHLO client.example.org");
            await d.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{other}\0{SmtpHostFixture.Password}")));
            await d.CommandAsync($"MAIL FROM:<{other}>");
            Assert.StartsWith("250 2.1.5", await d.CommandAsync("RCPT TO:<someone@remote.test>"));
        }
    }

    /// <summary>
    /// The hourly budget (6 here) counts what is sent. RCPT takes a recipient from it; a message refused after that at DATA —
    /// a mail loop (554 5.4.6), a NUL (554 5.6.0), a From: the account does not own (553 5.7.1) — or given up with RSET gives
    /// it back, so a client that retries a refused message does not lock itself out: after twelve such, twice the budget, a
    /// valid message goes, and so do the rest of the budget's, one by one. The next RCPT outside is 450 4.7.1.
    /// </summary>
    [Fact]
    public async Task Refused_messages_give_back_their_budget_and_accepted_ones_still_stop_at_it()
    {
        var sender = await NewSender();
        var hops = string.Concat(Enumerable.Range(0, 101).Select(i => $"Received: from hop{i}.example.org by hop{i + 1}.example.org; Wed, 2 Dec 2026 05:00:00 +0000\r\n"));
        (string Text, string Reply)[] refused =
        [
            (hops + $"From: <{sender}>\r\nSubject: looping\r\n\r\nround and round\r\n", "554 5.4.6"),
            ($"From: <{sender}>\r\nSubject: with a NUL\r\n\r\nbefore\0after\r\n", "554 5.6.0"),
            ($"From: <stranger{Guid.NewGuid():N}@{D}>\r\nSubject: not my address\r\n\r\nhello\r\n", "553 5.7.1"),
        ];
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            Assert.StartsWith("235", await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{sender}\0{SmtpHostFixture.Password}"))));
            for (var round = 0; round < 3; round++)
            {
                foreach (var (text, reply) in refused)
                {
                    Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<{sender}>"));
                    Assert.StartsWith("250 2.1.5", await c.CommandAsync($"RCPT TO:<refused{round}@remote.test>"));
                    Assert.StartsWith("354", await c.CommandAsync("DATA"));
                    await c.SendRawAsync(Encoding.UTF8.GetBytes(text + ".\r\n"));
                    Assert.StartsWith(reply, await c.ReadReplyAsync());
                }
                Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<{sender}>"));
                Assert.StartsWith("250 2.1.5", await c.CommandAsync($"RCPT TO:<abandoned{round}@remote.test>"));
                Assert.StartsWith("250", await c.CommandAsync("RSET"));
            }
            for (var i = 0; i < 6; i++)
            {
                Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<{sender}>"));
                Assert.StartsWith("250 2.1.5", await c.CommandAsync($"RCPT TO:<sent{i}@remote.test>"));
                Assert.StartsWith("354", await c.CommandAsync("DATA"));
                await c.SendRawAsync(Encoding.UTF8.GetBytes($"From: <{sender}>\r\nTo: <sent{i}@remote.test>\r\nSubject: within the budget {i}\r\n\r\nhello\r\n.\r\n"));
                Assert.StartsWith("250 2.0.0", await c.ReadReplyAsync());
            }
            Assert.StartsWith("250", await c.CommandAsync($"MAIL FROM:<{sender}>"));
            Assert.StartsWith("450 4.7.1", await c.CommandAsync("RCPT TO:<over@remote.test>"));
        }
        await WaitForRemote("sent5@remote.test");
        Assert.DoesNotContain(host.Remote.Received, r => r.To.Any(t => t.StartsWith("refused", StringComparison.Ordinal) || t.StartsWith("abandoned", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Messages_waiting_for_a_destination_leave_together_over_one_connection_when_it_answers_again()
    {
        var sender = await NewSender();
        for (var i = 0; i < 3; i++) await Submit(sender, SmtpHostFixture.Password, Message(sender, [$"b{i}@batch.example"], $"batch {i}"));
        await using (var ds = NpgsqlDataSource.Create(host.ConnectionString))
        {
            async Task<long> Deferred()
            {
                await using var cmd = ds.CreateCommand("SELECT count(*) FROM outbound_message WHERE destination = 'batch.example' AND attempts > 0");
                return (long)(await cmd.ExecuteScalarAsync())!;
            }
            await Eventually.Until(async () => await Deferred() == 3, TimeSpan.FromSeconds(20), "the three messages all deferred");
        }
        var before = host.Remote.Connections;
        host.Dns.A["mx.batch.example"] = IPAddress.Loopback;
        for (var i = 0; i < 3; i++) await WaitForRemote($"b{i}@batch.example");
        Assert.Equal(1, host.Remote.Connections - before);
        Assert.Equal(0, await QueueRows("batch.example"));
    }

    [Fact]
    public void A_token_bucket_takes_back_what_it_gave_for_nothing_but_never_holds_more_than_its_capacity()
    {
        var t0 = new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);
        var bucket = new GrainMail.Grains.Outbound.TokenBucket(6, 6 / 3600.0, t0);
        Assert.True(bucket.TryTake(6, t0));
        Assert.False(bucket.TryTake(1, t0));
        bucket.Return(2, t0);
        Assert.True(bucket.TryTake(2, t0));
        Assert.False(bucket.TryTake(1, t0));
        // Returned onto a bucket that refilled meanwhile: still at most its capacity.
        bucket.Return(6, t0.AddHours(1));
        Assert.True(bucket.TryTake(6, t0.AddHours(1)));
        Assert.False(bucket.TryTake(1, t0.AddHours(1)));
    }

    [Fact]
    public void A_token_bucket_allows_a_burst_up_to_its_capacity_then_its_refill_rate()
    {
        var t0 = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        var bucket = new GrainMail.Grains.Outbound.TokenBucket(3600, 1, t0);
        Assert.True(bucket.TryTake(3600, t0));
        Assert.False(bucket.TryTake(1, t0));
        Assert.False(bucket.TryTake(2, t0.AddSeconds(1)));
        Assert.True(bucket.TryTake(1, t0.AddSeconds(1.5)));
        Assert.True(bucket.TryTake(60, t0.AddSeconds(62)));
        Assert.False(bucket.TryTake(3601, t0.AddDays(1)));
    }

    [Fact]
    public async Task The_MX_port_never_relays_and_submission_needs_auth_for_external_recipients()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            await c.CommandAsync("MAIL FROM:<x@elsewhere.test>");
            Assert.StartsWith("550 5.7.1", await c.CommandAsync("RCPT TO:<ann@remote.test>"));
        }
    }

    [Fact]
    public async Task A_refused_recipient_bounces_to_the_sender_with_the_reason_and_the_rest_are_delivered()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["nobody1@remote.test", "carl@remote.test"], "partly wrong"));
        await WaitForRemote("carl@remote.test");
        var dsn = (await host.WaitForMessages(sender, 1)).Single();
        var report = MimeMessage.Load(new MemoryStream(dsn));
        Assert.Equal("Undeliverable: your message could not be delivered", report.Subject);
        var body = Assert.IsType<MultipartReport>(report.Body);
        Assert.Equal("delivery-status", body.ReportType);
        var human = report.TextBody;
        Assert.Contains("nobody1@remote.test", human);
        Assert.Contains("the address does not exist", human);
        Assert.Contains("User unknown", human);
        Assert.DoesNotContain("carl@remote.test", human);
        var fields = await DeliveryStatusFields(report);
        Assert.Contains("Final-Recipient: rfc822; nobody1@remote.test", fields);
        Assert.Contains("Action: failed", fields);
        Assert.Contains("Status: 5.1.1", fields);
        Assert.Contains(body, p => p.ContentType.MimeType == "text/rfc822-headers");
    }

    /// <summary>Asks for DSNs as a mail client does: NOTIFY per recipient with ORCPT, ENVID and RET on MAIL.</summary>
    private sealed class DsnAskingClient(DeliveryStatusNotification notify, string envid) : SmtpClient
    {
        protected override string GetEnvelopeId(MimeMessage message) => envid;

        protected override DeliveryStatusNotification? GetDeliveryStatusNotifications(MimeMessage message, MailboxAddress mailbox) => notify;
    }

    private async Task SubmitAskingDsn(string from, MimeMessage m, DeliveryStatusNotification notify, string envid)
    {
        using var c = new DsnAskingClient(notify, envid)
        {
            ServerCertificateValidationCallback = (_, _, _, _) => true,
            DeliveryStatusNotificationType = DeliveryStatusNotificationType.HeadersOnly,
        };
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(from, SmtpHostFixture.Password);
        await c.SendAsync(m);
        await c.DisconnectAsync(true);
    }

    /// <summary>
    /// RFC 3461 4.2/4.3: a next hop that speaks DSN gets the sender's NOTIFY, ORCPT, ENVID and RET
    /// unchanged and reports from then on, so no "relayed" notice comes from us; a next hop that
    /// does not gets nothing of it, and NOTIFY=SUCCESS earns the sender a "relayed" notice.
    /// </summary>
    [Fact]
    public async Task DSN_parameters_go_on_to_a_next_hop_that_speaks_DSN_and_others_earn_a_relayed_notice()
    {
        var sender = await NewSender();
        var envid = "env-" + Guid.NewGuid().ToString("N")[..8];
        await SubmitAskingDsn(sender, Message(sender, ["dana@dsn.test"], "dsn on"), DeliveryStatusNotification.Success | DeliveryStatusNotification.Failure, envid);
        Assert.NotNull(await WaitForRemote("dana@dsn.test", host.DsnRemote));
        var mail = Assert.Single(host.DsnRemote.MailCommands, l => l.Contains(envid, StringComparison.Ordinal));
        Assert.Contains(" RET=HDRS", mail);
        Assert.Contains($" ENVID={envid}", mail);
        var rcpt = Assert.Single(host.DsnRemote.RcptCommands, l => l.Contains("dana@dsn.test", StringComparison.Ordinal));
        Assert.Contains(" NOTIFY=SUCCESS,FAILURE", rcpt);
        Assert.Contains(" ORCPT=rfc822;dana@dsn.test", rcpt);

        var plainEnvid = "env-" + Guid.NewGuid().ToString("N")[..8];
        await SubmitAskingDsn(sender, Message(sender, ["erin@remote.test"], "dsn off"), DeliveryStatusNotification.Success, plainEnvid);
        await WaitForRemote("erin@remote.test");
        Assert.DoesNotContain(host.Remote.MailCommands, l => l.Contains("ENVID", StringComparison.Ordinal));
        Assert.DoesNotContain(host.Remote.RcptCommands, l => l.Contains("NOTIFY", StringComparison.Ordinal));

        // Exactly one notice: the "relayed" one about erin. dana's next hop reports for itself.
        var notices = await host.WaitForMessages(sender, 1);
        var fields = await DeliveryStatusFields(MimeMessage.Load(new MemoryStream(notices.Single())));
        Assert.Contains($"Original-Envelope-Id: {plainEnvid}", fields);
        Assert.Contains("Final-Recipient: rfc822; erin@remote.test", fields);
        Assert.Contains("Action: relayed", fields);
        Assert.DoesNotContain("dana@dsn.test", fields);
        // Nor does one about dana come a little later.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, await host.InboxCount(sender));
    }

    [Fact]
    public async Task A_deferred_recipient_is_retried_and_then_delivered()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["later1@remote.test"], "greylisted"));
        var got = await WaitForRemote("later1@remote.test");
        Assert.Equal(2, host.Remote.Attempts("later1@remote.test"));
        Assert.Contains("Subject: greylisted", Encoding.UTF8.GetString(got.Data));
        Assert.Equal(0, await host.InboxCount(sender)); // no bounce, no delay notice
    }

    /// <summary>RFC 5321 2.4: a local part is the destination's to interpret; only its domain is ours to normalise.</summary>
    [Fact]
    public async Task An_external_recipient_leaves_with_the_local_part_as_the_sender_wrote_it()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["Ann.Lee@REMOTE.test"], "case kept"));
        var got = await WaitForRemote("Ann.Lee@remote.test");
        Assert.Equal(["Ann.Lee@remote.test"], got.To);
    }

    /// <summary>
    /// RFC 5321 4.5.3.2.6: the reply to the final dot is waited for longer than the others (here 30 s
    /// against 2 s), since a remote still filtering the message would otherwise get it again.
    /// </summary>
    [Fact]
    public async Task A_remote_slow_to_answer_the_final_dot_gets_the_message_once()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["slowfilter@remote.test"], "scanned slowly"));
        await WaitForRemote("slowfilter@remote.test");
        await Eventually.Until(async () =>
        {
            var log = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/accounts/{sender}/sent-log");
            return log.EnumerateArray().Any(l => l.GetProperty("outcome").GetString() == "delivered");
        }, TimeSpan.FromSeconds(30), "the delivery in the send log");
        Assert.Equal(1, host.Remote.Attempts("slowfilter@remote.test"));
        Assert.Single(host.Remote.Received, r => r.To.Contains("slowfilter@remote.test"));
    }

    [Fact]
    public async Task A_null_MX_bounces_at_once_without_a_connection()
    {
        var sender = await NewSender();
        var before = host.Remote.Connections;
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["someone@nullmx.test"], "nowhere"));
        var dsn = MimeMessage.Load(new MemoryStream((await host.WaitForMessages(sender, 1)).Single()));
        Assert.Contains("null MX", dsn.TextBody);
        Assert.Contains("does not accept mail", dsn.TextBody);
        Assert.Equal(before, host.Remote.Connections);
        Assert.Equal(0, await QueueRows("nullmx.test"));
    }

    [Fact]
    public async Task An_unreachable_destination_keeps_the_message_queued_with_the_error()
    {
        var sender = await NewSender();
        await Submit(sender, SmtpHostFixture.Password, Message(sender, ["dora@down.test"], "server down"));
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        async Task<(int Attempts, string? Error, string[] Recipients)?> Queued()
        {
            await using var cmd = ds.CreateCommand("SELECT attempts, last_error, recipients FROM outbound_message WHERE destination = 'down.test'");
            await using var r = await cmd.ExecuteReaderAsync();
            return await r.ReadAsync() ? (r.GetInt32(0), r.IsDBNull(1) ? null : r.GetString(1), (string[])r[2]) : null;
        }
        var row = (await Eventually.Value(Queued, q => q is { Attempts: >= 2 }, TimeSpan.FromSeconds(30), "two deferred attempts recorded for down.test"))!.Value;
        Assert.Contains("mx.down.test", row.Error);
        Assert.Equal(["dora@down.test"], row.Recipients);
        // Deferred past the delay-notice time: one "delayed" report, and the message keeps waiting.
        var notice = MimeMessage.Load(new MemoryStream((await host.WaitForMessages(sender, 1)).Single()));
        Assert.StartsWith("Delivery delayed", notice.Subject);
        Assert.Contains("We keep trying", notice.TextBody);
        Assert.Contains("dora@down.test", notice.TextBody);
        var report = Assert.IsType<MultipartReport>(notice.Body);
        var status = report.OfType<MimePart>().Single(p => p.ContentType.MimeType == "message/delivery-status");
        using var ms = new MemoryStream();
        await status.Content!.DecodeToAsync(ms);
        Assert.Contains("Action: delayed", Encoding.ASCII.GetString(ms.ToArray()));
        // "One" notice, and the message "keeps" waiting: no event says nothing more happens, so both
        // must stay true for a while (retries come every second or two here, so three seconds see some).
        await Eventually.HoldsFor(async () => await host.InboxCount(sender) == 1 && await QueueRows("down.test") == 1,
            TimeSpan.FromSeconds(3), "one delay notice and the message still queued", poll: TimeSpan.FromMilliseconds(250));
        Assert.Equal(1, await host.InboxCount(sender));
        Assert.Equal(1, await QueueRows("down.test"));
        var queued = await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/outbound");
        var down = queued.EnumerateArray().Single(d => d.GetProperty("destination").GetString() == "down.test");
        Assert.Contains("mx.down.test", down.GetProperty("messages")[0].GetProperty("lastError").GetString());
    }
}
