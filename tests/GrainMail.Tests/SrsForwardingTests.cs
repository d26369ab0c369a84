using System.Net.Http.Json;
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

    [Fact]
    public async Task A_sender_too_long_for_an_srs0_local_part_leaves_with_a_stored_key_whose_bounce_finds_it()
    {
        var alias = "long" + Guid.NewGuid().ToString("N")[..8];
        var target = $"carl-{alias}@remote.test";
        // 52 octets of local part: SRS0=HHHHHH=TT=remote.test= in front would make it 79, past RFC 5321's 64.
        var original = $"a.very.long.mailing.list.bounce.address-{alias}@remote.test";
        Assert.True((await host.Post($"/api/v1/domains/{D}/aliases", new { alias, targets = new[] { target } })).IsSuccessStatusCode);

        Assert.StartsWith("250", await SendAsync(original, $"{alias}@{D}", $"From: <{original}>\r\nSubject: forward me too\r\n\r\nHello.\r\n"));
        var forwarded = await WaitForRemote(target);
        var local = forwarded.From[..forwarded.From.LastIndexOf('@')];
        Assert.StartsWith("srsk=", local, StringComparison.OrdinalIgnoreCase);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(local), 1, 64);
        Assert.EndsWith($"@{D}", forwarded.From);
        Assert.DoesNotContain("remote.test", forwarded.From);

        // The bounce comes back over MX (in another case, as servers may change it) and goes on to the original sender.
        Assert.StartsWith("250", await SendAsync(null, forwarded.From.ToUpperInvariant().Replace("@" + D.ToUpperInvariant(), "@" + D),
            "From: <MAILER-DAEMON@remote.test>\r\nSubject: Undelivered\r\n\r\nBounced.\r\n"));
        var bounce = await WaitForRemote(original);
        Assert.Equal("", bounce.From);

        // A key we never handed out, or a malformed one, is no address of ours.
        Assert.StartsWith("550", await SendAsync(null, $"srsk=aaaaaaaaaaaaaaaa@{D}", "Subject: x\r\n\r\nx\r\n"));
        Assert.StartsWith("550", await SendAsync(null, $"srsk=short@{D}", "Subject: x\r\n\r\nx\r\n"));
    }

    [Fact]
    public async Task An_alias_to_a_local_and_an_external_target_seals_only_the_copy_that_leaves()
    {
        var alias = "arc" + Guid.NewGuid().ToString("N")[..8];
        var target = $"dora-{alias}@remote.test";
        Assert.True((await host.Post($"/api/v1/domains/{D}/aliases", new { alias, targets = new[] { $"erin@{D}", target } })).IsSuccessStatusCode);
        var before = await host.InboxCount($"erin@{D}");
        var original = $"orig-{alias}@remote.test";
        Assert.StartsWith("250", await SendAsync(original, $"{alias}@{D}",
            $"From: <{original}>\r\nTo: <{alias}@{D}>\r\nSubject: sealed on the way out\r\nMessage-ID: <{alias}@remote.test>\r\n\r\nHello both.\r\n"));

        var forwarded = System.Text.Encoding.ASCII.GetString((await WaitForRemote(target)).Data);
        Assert.StartsWith("SRS0=", (await WaitForRemote(target)).From, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("ARC-Seal: i=1;", forwarded);
        Assert.Contains($"d={D}", forwarded);
        var keys = (await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/domains/{D}/dns")).EnumerateArray()
            .Where(r => r.GetProperty("name").GetString()!.Contains("._domainkey.", StringComparison.Ordinal))
            .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("value").GetString()!)).ToList();
        Assert.Equal("pass", GrainMail.TestSupport.ArcVerifier.Verify(forwarded, keys));
        var at = forwarded.IndexOf("Hello both", StringComparison.Ordinal);
        Assert.Equal("fail", GrainMail.TestSupport.ArcVerifier.Verify(forwarded[..at] + "J" + forwarded[(at + 1)..], keys));

        // The local copy is the message as received: no seal of ours.
        var local = await host.WaitForMessages($"erin@{D}", before + 1);
        var copy = System.Text.Encoding.ASCII.GetString(local.Last());
        Assert.Contains("Hello both.", copy);
        Assert.DoesNotContain("ARC-Seal", copy);
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
