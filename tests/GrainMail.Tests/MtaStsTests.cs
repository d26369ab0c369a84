using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// Destinations with MTA-STS policies: a TLS-capable MX with a certificate from a private CA on
/// 127.0.0.1, and a plain MX on 127.0.0.2 (same port), the policies served over HTTPS.
/// </summary>
public sealed class MtaStsHostFixture : SmtpHostFixture
{
    public TestPki Pki { get; } = new();
    public TestDnsServer Dns { get; } = new();
    public FakeSmtpServer Secure { get; }
    public FakeSmtpServer Plain { get; }
    public PolicyServer Policies { get; }
    private readonly string _caPem = Path.Combine(Path.GetTempPath(), $"grainmail-testca-{Guid.NewGuid():N}.pem");

    public MtaStsHostFixture()
    {
        Secure = new FakeSmtpServer(IPAddress.Loopback, 0, Pki.Issue("mx.secure.example", "mx.plain.example", "mx.lax.example")) { OfferRequireTls = true };
        Plain = new FakeSmtpServer(IPAddress.Parse("127.0.0.2"), Secure.Port);
        Policies = new PolicyServer(Pki.Issue("mta-sts.secure.example", "mta-sts.plain.example", "mta-sts.lax.example", "mta-sts.elsewhere.example"));
        Pki.WriteCaPem(_caPem);
        void Destination(string name, IPAddress mx, string mode, string mxPattern)
        {
            Dns.Mx[name] = [(10, $"mx.{name}")];
            Dns.A[$"mx.{name}"] = mx;
            Dns.A[$"mta-sts.{name}"] = IPAddress.Loopback;
            Dns.Txt[$"_mta-sts.{name}"] = ["v=STSv1; id=20261122"];
            Policies.Policies[$"mta-sts.{name}"] = $"version: STSv1\nmode: {mode}\nmx: {mxPattern}\nmax_age: 86400\n";
        }
        Destination("secure.example", IPAddress.Loopback, "enforce", "mx.secure.example");
        Destination("plain.example", IPAddress.Parse("127.0.0.2"), "enforce", "*.plain.example");
        Destination("lax.example", IPAddress.Parse("127.0.0.2"), "testing", "mx.lax.example");
        Destination("elsewhere.example", IPAddress.Loopback, "enforce", "mx.other-provider.example");
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_SMTP_OUT_PORT"] = Secure.Port.ToString(),
        ["GrainMail__MtaStsHttpsPort"] = Policies.Port.ToString(),
        ["GrainMail__OutboundTrustedCaPem"] = _caPem,
        ["GrainMail__OutboundRetrySchedule__0"] = "00:00:01",
    };
}

/// <summary>MTA-STS (RFC 8461) on the sending side: enforce means verified TLS to a listed MX, or no delivery.</summary>
public sealed class MtaStsTests(MtaStsHostFixture host) : IClassFixture<MtaStsHostFixture>
{
    private async Task<string> Send(string to, bool requireTls = false)
    {
        var local = "s" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var from = $"{local}@{SmtpHostFixture.Domain}";
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = "policy test";
        m.Body = new TextPart("plain") { Text = "x\r\n" };
        using var c = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true, RequireTLS = requireTls };
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        if (requireTls) Assert.True(c.Capabilities.HasFlag(SmtpCapabilities.RequireTLS));
        await c.AuthenticateAsync(from, SmtpHostFixture.Password);
        await c.SendAsync(m);
        await c.DisconnectAsync(true);
        return from;
    }

    private async Task<List<(string Outcome, string Reply)>> Log(string sender, int atLeast)
    {
        async Task<List<(string Outcome, string Reply)>> Read()
        {
            var json = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{sender}/sent-log");
            return json.EnumerateArray().Select(l => (l.GetProperty("outcome").GetString()!, l.GetProperty("reply").GetString()!)).ToList();
        }
        return await Eventually.Value(Read, log => log.Count >= atLeast, TimeSpan.FromSeconds(20), $"{atLeast} line(s) in {sender}'s send log");
    }

    [Fact]
    public async Task An_enforced_policy_with_a_valid_certificate_delivers_over_TLS()
    {
        await Send("ann@secure.example");
        await Eventually.Until(() => host.Secure.Received.Any(r => r.To.Contains("ann@secure.example")), TimeSpan.FromSeconds(20), "delivery to ann@secure.example");
        var index = host.Secure.Received.ToList().FindIndex(r => r.To.Contains("ann@secure.example"));
        Assert.True(index >= 0, "not delivered");
        Assert.True(host.Secure.ReceivedOverTls.ToList()[index]);
        Assert.True(host.Policies.Fetches > 0);
    }

    [Fact]
    public async Task An_enforced_policy_without_STARTTLS_defers_instead_of_sending_in_clear()
    {
        var sender = await Send("bo@plain.example");
        var log = await Log(sender, 2);
        Assert.True(log.Count >= 2);
        Assert.All(log, l => Assert.Equal("deferred", l.Outcome));
        Assert.Contains("MTA-STS policy requires TLS", log[0].Reply);
        Assert.DoesNotContain(host.Plain.Received, r => r.To.Contains("bo@plain.example"));
    }

    [Fact]
    public async Task A_testing_policy_still_delivers_without_TLS()
    {
        await Send("cy@lax.example");
        await Eventually.Until(() => host.Plain.Received.Any(r => r.To.Contains("cy@lax.example")), TimeSpan.FromSeconds(20), "delivery to cy@lax.example");
        Assert.Contains(host.Plain.Received, r => r.To.Contains("cy@lax.example"));
    }

    [Fact]
    public async Task REQUIRETLS_is_carried_to_a_verified_next_hop_and_bounces_where_TLS_is_missing()
    {
        await Send("rt@secure.example", requireTls: true);
        await Eventually.Until(() => host.Secure.Received.Any(r => r.To.Contains("rt@secure.example")), TimeSpan.FromSeconds(20), "delivery to rt@secure.example");
        Assert.Contains(host.Secure.Received, r => r.To.Contains("rt@secure.example"));
        Assert.Contains(host.Secure.MailCommands, m => m.Contains("REQUIRETLS", StringComparison.OrdinalIgnoreCase));

        // A testing policy would allow clear text, REQUIRETLS does not: the sender gets the message back.
        var sender = await Send("rt@lax.example", requireTls: true);
        var dsn = MimeMessage.Load(new MemoryStream((await host.WaitForMessages(sender, 1)).Single()));
        Assert.Contains("5.7.10", dsn.TextBody);
        Assert.DoesNotContain(host.Plain.Received, r => r.To.Contains("rt@lax.example"));
    }

    [Fact]
    public async Task REQUIRETLS_is_offered_and_accepted_only_over_TLS()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            Assert.DoesNotContain("REQUIRETLS", await c.CommandAsync("EHLO client.example.org"));
            Assert.StartsWith("530 5.7.10", await c.CommandAsync("MAIL FROM:<x@elsewhere.test> REQUIRETLS"));
            Assert.StartsWith("220", await c.CommandAsync("STARTTLS"));
            await c.UpgradeAsync();
            Assert.Contains("REQUIRETLS", await c.CommandAsync("EHLO client.example.org"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<x@elsewhere.test> REQUIRETLS"));
        }
    }

    [Fact]
    public async Task An_MX_the_enforced_policy_does_not_list_is_not_used()
    {
        var sender = await Send("di@elsewhere.example");
        var log = await Log(sender, 1);
        Assert.Equal("deferred", log[0].Outcome);
        Assert.Contains("matches its MTA-STS policy", log[0].Reply);
        Assert.DoesNotContain(host.Secure.Received, r => r.To.Contains("di@elsewhere.example"));
    }
}
