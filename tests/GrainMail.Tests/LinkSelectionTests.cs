using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>A host with a direct link and two overseas relays (loopback SMTP servers), and a DNS it can be lied to by.</summary>
public sealed class LinkHostFixture : SmtpHostFixture
{
    /// <summary>How long a link goes untried before a route probes it again.</summary>
    public static readonly TimeSpan ProbeAfter = TimeSpan.FromSeconds(2);

    public TestDnsServer Dns { get; } = new();
    public FakeSmtpServer Direct { get; } = new();
    public FakeSmtpServer Tokyo { get; } = new();
    public FakeSmtpServer Frankfurt { get; } = new();

    public LinkHostFixture()
    {
        // Every destination's MX starts unreachable (nothing listens on 127.0.0.3).
        foreach (var d in new[] { "abroad.example", "kunming.cn", "other1.example", "other2.example", "third.example" })
        {
            Dns.Mx[d] = [(10, $"mx.{d}")];
            Dns.A[$"mx.{d}"] = IPAddress.Parse("127.0.0.3");
        }
        // A foreign-looking domain whose MX is at a domestic provider (127.0.0.4, in the configured range; nothing listens).
        Dns.Mx["hosted-at-home.example"] = [(10, "mx.hosted-at-home.example")];
        Dns.A["mx.hosted-at-home.example"] = IPAddress.Parse("127.0.0.4");
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_SMTP_OUT_PORT"] = Direct.Port.ToString(),
        ["GrainMail__OutboundRetrySchedule__0"] = "00:00:01",
        ["GrainMail__OutboundProbeAfter"] = ProbeAfter.ToString("c"),
        ["GrainMail__LinkDownAfterFailures"] = "2",
        ["GrainMail__LinkCooldown"] = "00:01:00",
        ["GrainMail__DomesticMxRanges__0"] = "127.0.0.4/32",
        ["GrainMail__OutboundLinks__0__Name"] = "direct",
        ["GrainMail__OutboundLinks__0__Kind"] = "Direct",
        ["GrainMail__OutboundLinks__0__Region"] = "beijing",
        ["GrainMail__OutboundLinks__1__Name"] = "tokyo",
        ["GrainMail__OutboundLinks__1__Kind"] = "Relay",
        ["GrainMail__OutboundLinks__1__Region"] = "tokyo",
        ["GrainMail__OutboundLinks__1__Host"] = "127.0.0.1",
        ["GrainMail__OutboundLinks__1__Port"] = Tokyo.Port.ToString(),
        ["GrainMail__OutboundLinks__2__Name"] = "frankfurt",
        ["GrainMail__OutboundLinks__2__Kind"] = "Relay",
        ["GrainMail__OutboundLinks__2__Region"] = "frankfurt",
        ["GrainMail__OutboundLinks__2__Host"] = "127.0.0.1",
        ["GrainMail__OutboundLinks__2__Port"] = Frankfurt.Port.ToString(),
    };
}

/// <summary>Smart link selection on loopback: relay when direct fails, back to direct when it recovers, domestic stays direct, a dead relay is avoided by every route.</summary>
public sealed class LinkSelectionTests(LinkHostFixture host) : IClassFixture<LinkHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private async Task<string> NewSender()
    {
        var local = "l" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    private async Task Send(string from, string to, string subject)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = "link test\r\n" };
        using var c = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(from, SmtpHostFixture.Password);
        await c.SendAsync(m);
        await c.DisconnectAsync(true);
    }

    private static async Task<ReceivedMessage> WaitFor(string recipient, params FakeSmtpServer[] servers)
    {
        ReceivedMessage? hit = null;
        await Eventually.Until(() => (hit = servers.SelectMany(s => s.Received).FirstOrDefault(r => r.To.Contains(recipient))) is not null,
            TimeSpan.FromSeconds(30), $"the message for {recipient}");
        return hit!;
    }

    /// <summary>
    /// The send log once it shows <paramref name="recipient"/> delivered: the remote server has the
    /// message a moment before the route writes the attempt down.
    /// </summary>
    private Task<List<(string Link, string Recipient, string Outcome)>> LogOnceDelivered(string sender, string recipient) =>
        Eventually.Value(() => Log(sender), l => l.Any(x => x.Recipient == recipient && x.Outcome == "delivered"), TimeSpan.FromSeconds(20),
            $"the delivery to {recipient} in the send log", poll: TimeSpan.FromMilliseconds(200));

    /// <summary>(link, recipient, outcome) of the sender's send log, oldest first.</summary>
    private async Task<List<(string Link, string Recipient, string Outcome)>> Log(string sender)
    {
        var json = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{sender}/sent-log");
        return json.EnumerateArray().Reverse()
            .Select(l => (l.GetProperty("link").GetString()!, l.GetProperty("recipient").GetString()!, l.GetProperty("outcome").GetString()!)).ToList();
    }

    [Fact]
    public async Task Overseas_mail_takes_a_relay_while_direct_fails_and_goes_direct_again_when_it_recovers()
    {
        var sender = await NewSender();
        // Direct is tried first while its estimate allows (twice), each time falling back to a relay...
        foreach (var to in new[] { "a1@abroad.example", "a1b@abroad.example" })
        {
            await Send(sender, to, "while direct is down");
            var viaRelay = await WaitFor(to, host.Tokyo, host.Frankfurt);
            Assert.Contains("Subject: while direct is down", System.Text.Encoding.UTF8.GetString(viaRelay.Data));
        }
        // ...then the route goes straight to the relay.
        await Send(sender, "a1c@abroad.example", "relay first");
        await WaitFor("a1c@abroad.example", host.Tokyo, host.Frankfurt);
        var log = await LogOnceDelivered(sender, "a1c@abroad.example");
        string[] relays = ["tokyo", "frankfurt"];
        Assert.Equal(("direct", "deferred"), (log[0].Link, log[0].Outcome));
        Assert.Contains(log[1].Link, relays);
        Assert.Equal(("direct", "deferred"), (log[2].Link, log[2].Outcome));
        var third = log.Where(l => l.Recipient == "a1c@abroad.example").ToList();
        Assert.Single(third);
        Assert.Contains(third[0].Link, relays);
        Assert.Equal("delivered", third[0].Outcome);

        // Direct comes back: after the probe interval the route tries it first again, and stays on it.
        host.Dns.A["mx.abroad.example"] = IPAddress.Loopback;
        // Deliberate passage of time, not a wait for an event: the probe is due only once the host's own
        // clock has gone the probe interval without trying direct, and nothing announces that moment.
        await Task.Delay(LinkHostFixture.ProbeAfter + TimeSpan.FromMilliseconds(500));
        await Send(sender, "a2@abroad.example", "second");
        await WaitFor("a2@abroad.example", host.Direct);
        await Send(sender, "a3@abroad.example", "third");
        await WaitFor("a3@abroad.example", host.Direct);
        log = await LogOnceDelivered(sender, "a3@abroad.example");
        Assert.Equal([("direct", "a2@abroad.example", "delivered"), ("direct", "a3@abroad.example", "delivered")],
            log.Where(l => l.Recipient is "a2@abroad.example" or "a3@abroad.example").ToList());
    }

    [Fact]
    public async Task Domestic_mail_never_leaves_the_direct_link()
    {
        var sender = await NewSender();
        await Send(sender, "wang@kunming.cn", "domestic");
        // Several attempts (retries every second), all direct, none through a relay.
        var log = await Eventually.Value(() => Log(sender), l => l.Count >= 3, TimeSpan.FromSeconds(20), "three attempts in the send log", poll: TimeSpan.FromMilliseconds(250));
        Assert.True(log.Count >= 3, "expected retries");
        Assert.All(log, l => Assert.Equal(("direct", "deferred"), (l.Link, l.Outcome)));
        Assert.DoesNotContain(host.Tokyo.Received.Concat(host.Frankfurt.Received), r => r.To.Contains("wang@kunming.cn"));
    }

    [Fact]
    public async Task A_destination_whose_MX_is_in_a_domestic_range_is_domestic()
    {
        var sender = await NewSender();
        await Send(sender, "li@hosted-at-home.example", "domestic by MX");
        var log = await Eventually.Value(() => Log(sender), l => l.Count >= 2, TimeSpan.FromSeconds(20), "two attempts in the send log", poll: TimeSpan.FromMilliseconds(250));
        Assert.True(log.Count >= 2, "expected retries");
        Assert.All(log, l => Assert.Equal("direct", l.Link));
    }

    [Fact]
    public async Task A_relay_that_dies_is_avoided_by_every_route()
    {
        var sender = await NewSender();
        host.Tokyo.Dispose(); // the Tokyo relay goes dark
        // Two routes each find it dead (two connection failures in all mark the link down)...
        await Send(sender, "x@other1.example", "one");
        await WaitFor("x@other1.example", host.Frankfurt);
        await Send(sender, "y@other2.example", "two");
        await WaitFor("y@other2.example", host.Frankfurt);
        // ...and a third route, which has never tried Tokyo itself, does not try it at all.
        await Send(sender, "z@third.example", "three");
        await WaitFor("z@third.example", host.Frankfurt);
        var log = await LogOnceDelivered(sender, "z@third.example");
        var third = log.Where(l => l.Recipient == "z@third.example").Select(l => l.Link).ToList();
        Assert.Equal(["direct", "frankfurt"], third);
        Assert.Equal(2, log.Count(l => l.Link == "tokyo"));
        var health = await host.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/outbound/links");
        var tokyo = health.EnumerateArray().Single(l => l.GetProperty("name").GetString() == "tokyo");
        Assert.True(tokyo.GetProperty("down").GetBoolean());
    }
}
