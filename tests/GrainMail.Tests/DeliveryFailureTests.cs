using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MimeKit;

namespace GrainMail.Tests;

public sealed class PostmasterHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__Postmaster"] = $"frank@{Domain}",
    };
}

/// <summary>
/// No silent loss: a message that got 250 and then cannot be placed (account disabled or
/// deleted, mailbox full since) comes back to its sender as a DSN honouring RET, ENVID, NOTIFY
/// and ORCPT, becomes a dead letter listed by the admin API, and can be redelivered. Everything
/// through the running host: SMTP on the MX port, the admin API, the stored mail.
/// </summary>
public sealed class DeliveryFailureTests(PostmasterHostFixture host) : IClassFixture<PostmasterHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    /// <summary>
    /// MAIL and RCPT are answered, then <paramref name="between"/> changes the recipient, then
    /// DATA: the 250 after DATA comes from the state at RCPT time.
    /// </summary>
    private static async Task SendWithChangeBetweenRcptAndData(int mx, string mailFrom, string rcptTo, Func<Task> between, string subject,
        string body = "hello")
    {
        var (c, greeting) = await RawSmtp.ConnectAsync(mx);
        await using (c)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await c.CommandAsync("EHLO client.example"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:" + mailFrom));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:" + rcptTo));
            await between();
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            var message = $"From: Sender <x@example.org>\r\nTo: <someone@{D}>\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@example.org>\r\n\r\n{body}\r\n.";
            Assert.StartsWith("250", await c.CommandAsync(message));
            await c.CommandAsync("QUIT");
        }
    }

    private static MimeMessage Parse(byte[] raw) => MimeMessage.Load(new MemoryStream(raw));

    /// <summary>The per-recipient fields of a DSN's message/delivery-status part, and its per-message fields.</summary>
    private static (HeaderList Message, HeaderList Recipient) StatusOf(MimeMessage dsn)
    {
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        // MimeKit may read the blank line that ends the last group as one more, empty group.
        var groups = status.StatusGroups.Where(g => g.Count > 0).ToList();
        Assert.Equal(2, groups.Count);
        return (groups[0], groups[1]);
    }

    private async Task<JsonElement[]> DeadLettersFor(string address) =>
        (await host.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/dead-letters?limit=1000"))
            .GetProperty("deadLetters").EnumerateArray().Where(d => d.GetProperty("key").GetString() == address).ToArray();

    [Fact]
    public async Task Account_disabled_after_RCPT_the_sender_gets_a_DSN_and_a_redelivered_dead_letter_arrives_once_enabled()
    {
        await host.NewAccount("dis-rcpt");
        await host.NewAccount("dis-sender");
        var before = await host.InboxCount($"dis-sender@{D}");
        await SendWithChangeBetweenRcptAndData(host.Mx, $"<dis-sender@{D}> RET=HDRS ENVID=env+2Bid-42",
            $"<dis-rcpt@{D}> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Dis-Rcpt@Example.Org", async () =>
            {
                var r = await host.Host.Http.PutAsJsonAsync($"/api/v1/accounts/dis-rcpt@{D}/enabled", new { enabled = false });
                Assert.Equal(System.Net.HttpStatusCode.NoContent, r.StatusCode);
            }, "to a disabled account", "the secret body text");

        var stored = await host.WaitForMessages($"dis-sender@{D}", before + 1);
        var dsn = Parse(stored[^1]);
        Assert.StartsWith("Undeliverable", dsn.Subject);
        Assert.Equal("auto-replied", dsn.Headers["Auto-Submitted"]);
        var (perMessage, perRecipient) = StatusOf(dsn);
        Assert.Equal("env+id-42", perMessage["Original-Envelope-Id"]);
        Assert.Equal("rfc822;Dis-Rcpt@Example.Org", perRecipient["Original-Recipient"]);
        Assert.Equal($"rfc822; dis-rcpt@{D}", perRecipient["Final-Recipient"]);
        Assert.Equal("failed", perRecipient["Action"]);
        Assert.Equal("5.2.1", perRecipient["Status"]);
        // RET=HDRS: the header section comes back, the body does not.
        var returned = Assert.IsType<TextRfc822Headers>(((MultipartReport)dsn.Body!)[2]);
        Assert.Equal("to a disabled account", returned.Message!.Subject);
        Assert.DoesNotContain("the secret body text", Encoding.UTF8.GetString(stored[^1]));
        var human = ((MultipartReport)dsn.Body!)[0] as TextPart;
        Assert.Contains("disabled", human!.Text);
        Assert.Equal(0, await host.InboxCount($"dis-rcpt@{D}"));

        // The operator sees it, mends the cause and sends it back: it arrives.
        var dead = Assert.Single(await DeadLettersFor($"dis-rcpt@{D}"));
        Assert.Equal("inbound", dead.GetProperty("stream").GetString());
        Assert.Equal($"dis-sender@{D}", dead.GetProperty("sender").GetString());
        Assert.Contains("disabled", dead.GetProperty("reason").GetString());
        await host.Host.Http.PutAsJsonAsync($"/api/v1/accounts/dis-rcpt@{D}/enabled", new { enabled = true });
        var id = dead.GetProperty("id").GetInt64();
        Assert.Equal(System.Net.HttpStatusCode.Accepted, (await host.Host.Http.PostAsync($"/api/v1/dead-letters/{id}/redeliver", null)).StatusCode);
        var arrived = await host.WaitForMessages($"dis-rcpt@{D}", 1);
        Assert.Contains("the secret body text", Encoding.UTF8.GetString(arrived[0]));
        Assert.Empty(await DeadLettersFor($"dis-rcpt@{D}"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await host.Host.Http.PostAsync($"/api/v1/dead-letters/{id}/redeliver", null)).StatusCode);
    }

    [Fact]
    public async Task Mailbox_full_since_RCPT_bounces_with_the_whole_message_when_RET_FULL()
    {
        await host.NewAccount("full-rcpt");
        await host.NewAccount("full-sender");
        var before = await host.InboxCount($"full-sender@{D}");
        await SendWithChangeBetweenRcptAndData(host.Mx, $"<full-sender@{D}> RET=FULL", $"<full-rcpt@{D}>", async () =>
        {
            // An admin shrinks the mailbox to nothing after the RCPT was accepted.
            var r = await host.Host.Http.PutAsJsonAsync($"/api/v1/accounts/full-rcpt@{D}/quota", new { quotaBytes = 10 });
            Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        }, "too big now", "every word of the body");

        var dsn = Parse((await host.WaitForMessages($"full-sender@{D}", before + 1))[^1]);
        var (perMessage, perRecipient) = StatusOf(dsn);
        Assert.Null(perMessage["Original-Envelope-Id"]);
        Assert.Null(perRecipient["Original-Recipient"]);
        Assert.Equal("5.2.2", perRecipient["Status"]);
        var returned = Assert.IsType<MessagePart>(((MultipartReport)dsn.Body!)[2], exactMatch: false);
        Assert.Equal("too big now", returned.Message!.Subject);
        Assert.Contains("every word of the body", returned.Message!.TextBody);
    }

    [Fact]
    public async Task Account_deleted_after_RCPT_bounces_and_NOTIFY_NEVER_is_honoured()
    {
        await host.NewAccount("del-rcpt");
        await host.NewAccount("del-quiet");
        await host.NewAccount("del-sender");
        var before = await host.InboxCount($"del-sender@{D}");
        await SendWithChangeBetweenRcptAndData(host.Mx, $"<del-sender@{D}>", $"<del-quiet@{D}> NOTIFY=NEVER", async () =>
            Assert.True((await host.Host.Http.DeleteAsync($"/api/v1/accounts/del-quiet@{D}")).IsSuccessStatusCode), "never tell me");
        await SendWithChangeBetweenRcptAndData(host.Mx, $"<del-sender@{D}>", $"<del-rcpt@{D}>", async () =>
            Assert.True((await host.Host.Http.DeleteAsync($"/api/v1/accounts/del-rcpt@{D}")).IsSuccessStatusCode), "tell me");

        var dsn = Parse((await host.WaitForMessages($"del-sender@{D}", before + 1))[^1]);
        Assert.Equal("5.1.1", StatusOf(dsn).Recipient["Status"]);
        Assert.Equal($"rfc822; del-rcpt@{D}", StatusOf(dsn).Recipient["Final-Recipient"]);
        // The NOTIFY=NEVER message is a dead letter too, but no report was written about it.
        await Eventually.Until(async () => (await DeadLettersFor($"del-quiet@{D}")).Length == 1, TimeSpan.FromSeconds(30), "the quiet dead letter");
        Assert.Equal(before + 1, await host.InboxCount($"del-sender@{D}"));
    }

    [Fact]
    public async Task NOTIFY_SUCCESS_gets_a_delivered_report()
    {
        await host.NewAccount("ok-rcpt");
        await host.NewAccount("ok-sender");
        var before = await host.InboxCount($"ok-sender@{D}");
        await SendWithChangeBetweenRcptAndData(host.Mx, $"<ok-sender@{D}> ENVID=ok1", $"<ok-rcpt@{D}> NOTIFY=SUCCESS", () => Task.CompletedTask, "hi");
        await host.WaitForMessages($"ok-rcpt@{D}", 1);
        var dsn = Parse((await host.WaitForMessages($"ok-sender@{D}", before + 1))[^1]);
        var (perMessage, perRecipient) = StatusOf(dsn);
        Assert.Equal("ok1", perMessage["Original-Envelope-Id"]);
        Assert.Equal("delivered", perRecipient["Action"]);
        Assert.Equal("2.0.0", perRecipient["Status"]);
    }

    [Fact]
    public async Task Postmaster_is_accepted_bare_and_at_every_hosted_domain()
    {
        var before = await host.InboxCount($"frank@{D}");
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example");
            foreach (var rcpt in new[] { "<Postmaster>", $"<POSTMASTER@{D}>", "<postmaster@small.test>" })
            {
                Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<someone@example.org>"));
                Assert.StartsWith("250", await c.CommandAsync("RCPT TO:" + rcpt));
                Assert.StartsWith("354", await c.CommandAsync("DATA"));
                Assert.StartsWith("250", await c.CommandAsync($"Subject: to {rcpt}\r\nFrom: <someone@example.org>\r\n\r\nhi\r\n."));
            }
        }
        // No postmaster account or setting in either domain: the node's postmaster (frank) gets all three.
        var got = await host.WaitForMessages($"frank@{D}", before + 3);
        var subjects = got.Skip(before).Select(m => Parse(m).Subject).ToList();
        Assert.Contains($"to <POSTMASTER@{D}>", subjects);
        Assert.Contains("to <Postmaster>", subjects);
        Assert.Contains("to <postmaster@small.test>", subjects);
    }
}
