using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// An alias that forwards MX mail outside: the copy leaves with an SRS envelope sender of the alias's
/// domain (so the receiver's SPF sees us), a bounce to that address reaches the original sender, and a
/// forged SRS address is refused at RCPT.
/// </summary>
public sealed class SrsForwardingTests(OutboundHostFixture host) : IClassFixture<OutboundHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    [Fact]
    public async Task A_forwarded_message_carries_an_srs_sender_whose_bounce_goes_back_to_the_original_sender()
    {
        var alias = "fwd" + Guid.NewGuid().ToString("N")[..8];
        var target = $"carl-{alias}@remote.test";
        var original = $"orig-{alias}@remote.test";
        var created = await host.Post($"/api/v1/domains/{D}/aliases", new { alias, targets = new[] { target } });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());

        Assert.StartsWith("250", await SendAsync(original, $"{alias}@{D}", $"From: <{original}>\r\nSubject: forward me\r\n\r\nHello.\r\n"));
        var forwarded = await WaitForRemote(target);
        Assert.StartsWith("SRS0=", forwarded.From, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith($"@{D}", forwarded.From);
        Assert.Contains("=remote.test=", forwarded.From);

        // The receiver bounces to the envelope sender it was given: the bounce goes on to the original sender.
        Assert.StartsWith("250", await SendAsync(null, forwarded.From, $"From: <MAILER-DAEMON@remote.test>\r\nSubject: Undelivered\r\n\r\nBounced.\r\n"));
        var bounce = await WaitForRemote(original);
        Assert.Equal("", bounce.From);

        // A made-up SRS address is no address of ours.
        var (smtp, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (smtp)
        {
            Assert.StartsWith("250", await smtp.CommandAsync("EHLO client.example"));
            Assert.StartsWith("250", await smtp.CommandAsync("MAIL FROM:<>"));
            var local = forwarded.From[..forwarded.From.LastIndexOf('@')];
            var parts = local.Split('=');
            parts[1] = parts[1] == "aaaaaa" ? "bbbbbb" : "aaaaaa";
            Assert.StartsWith("550", await smtp.CommandAsync($"RCPT TO:<{string.Join('=', parts)}@{D}>"));
            Assert.StartsWith("550", await smtp.CommandAsync($"RCPT TO:<SRS0=broken@{D}>"));
        }
    }

    private async Task<ReceivedMessage> WaitForRemote(string recipient)
    {
        ReceivedMessage? hit = null;
        await Eventually.Until(() => (hit = host.Remote.Received.FirstOrDefault(r => r.To.Contains(recipient))) is not null,
            TimeSpan.FromSeconds(30), $"the message for {recipient} at the remote");
        return hit!;
    }

    private async Task<string> SendAsync(string? sender, string recipient, string message)
    {
        var (smtp, greeting) = await RawSmtp.ConnectAsync(host.Mx);
        await using (smtp)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await smtp.CommandAsync("EHLO client.example"));
            Assert.StartsWith("250", await smtp.CommandAsync($"MAIL FROM:<{sender}>"));
            var rcpt = await smtp.CommandAsync($"RCPT TO:<{recipient}>");
            if (!rcpt.StartsWith("250", StringComparison.Ordinal)) return rcpt;
            Assert.StartsWith("354", await smtp.CommandAsync("DATA"));
            await smtp.SendRawAsync(message + ".\r\n");
            var reply = await smtp.ReadReplyAsync();
            await smtp.CommandAsync("QUIT");
            return reply;
        }
    }
}
