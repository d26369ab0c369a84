using System.Diagnostics;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>A host with small harvesting limits and connection caps, so that both can be reached in seconds.</summary>
public sealed class AbuseHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__SmtpFreeUnknownRecipients"] = "2",
        ["GrainMail__SmtpTarpitDelay"] = "00:00:00.2",
        ["GrainMail__SmtpMaxTarpitDelay"] = "00:00:00.4",
        ["GrainMail__SmtpMaxUnknownRecipientsPerSession"] = "5",
        ["GrainMail__SmtpMaxUnknownRecipientsPerIp"] = "8",
        ["GrainMail__SmtpMaxConnectionsPerIp"] = "2",
        ["GrainMail__ImapMaxConnectionsPerIp"] = "2",
        ["GrainMail__Pop3MaxConnectionsPerIp"] = "2",
    };
}

/// <summary>Recipient harvesting (tarpit, per-session and per-address limits) and refusals on implicit-TLS ports.</summary>
public sealed class SmtpAbuseTests(AbuseHostFixture host) : IClassFixture<AbuseHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private static void Code(string expected, string reply) =>
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"expected '{expected}…', got '{reply}'");

    [Fact]
    public async Task Recipient_harvesting_is_slowed_then_cut_off_per_session_and_per_address()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            Code("250", await c.CommandAsync("EHLO harvest.example.org"));
            Code("250", await c.CommandAsync("MAIL FROM:<h@example.org>"));
            for (var i = 0; i < 2; i++) Code("550 5.1.1", await c.CommandAsync($"RCPT TO:<guess{i}@{D}>"));
            // The third to fifth unknown recipients wait 0.2, 0.4 and 0.4 s (doubling, capped).
            var slow = Stopwatch.StartNew();
            for (var i = 2; i < 5; i++) Code("550 5.1.1", await c.CommandAsync($"RCPT TO:<guess{i}@{D}>"));
            Assert.True(slow.Elapsed >= TimeSpan.FromSeconds(0.9), $"three tarpitted answers took only {slow.Elapsed}");
            // A real recipient is still accepted; the sixth unknown one ends the session.
            Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<bob@{D}>"));
            Code("421 4.7.0", await c.CommandAsync($"RCPT TO:<guess5@{D}>"));
            Assert.Equal("", await c.ReadReplyAsync());
        }

        // A new session from the same address has two unknown recipients left (8 per address).
        var (d, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (d)
        {
            Code("250", await d.CommandAsync("EHLO harvest.example.org"));
            Code("250", await d.CommandAsync("MAIL FROM:<h@example.org>"));
            Code("550 5.1.1", await d.CommandAsync($"RCPT TO:<again0@{D}>"));
            Code("550 5.1.1", await d.CommandAsync($"RCPT TO:<again1@{D}>"));
            Code("421 4.7.0", await d.CommandAsync($"RCPT TO:<again2@{D}>"));
            Assert.Equal("", await d.ReadReplyAsync());
        }
        Assert.Equal(0, await host.InboxCount($"bob@{D}"));
    }

    public static TheoryData<string, string> ImplicitTlsListeners => new()
    {
        { "smtps", "421 4.7.0" },
        { "imaps", "* BYE" },
        { "pop3s", "-ERR [SYS/TEMP]" },
    };

    [Theory]
    [MemberData(nameof(ImplicitTlsListeners))]
    public async Task Over_the_cap_an_implicit_TLS_port_refuses_over_TLS(string listener, string refusal)
    {
        var port = listener switch
        {
            "smtps" => host.Submissions,
            "imaps" => host.Imaps,
            _ => host.Pop3s,
        };
        var open = new List<IAsyncDisposable>();
        try
        {
            // Up to the cap of 2 (a connection of an earlier test may still count), then one more.
            string? refused = null;
            for (var i = 0; i < 4 && refused is null; i++)
            {
                // The handshake completes (it would throw on cleartext), then the first line is read over TLS.
                string greeting;
                if (listener == "smtps")
                {
                    var (c, g) = await RawSmtp.ConnectAsync(port, implicitTls: true);
                    open.Add(c);
                    greeting = g;
                }
                else
                {
                    var (c, g) = await RawImap.ConnectAsync(port, implicitTls: true);
                    open.Add(c);
                    greeting = g;
                }
                if (greeting.StartsWith(refusal, StringComparison.Ordinal)) refused = greeting;
                else Assert.DoesNotContain("Too many", greeting);
            }
            Assert.NotNull(refused);
            Assert.Contains("Too many connections", refused);
        }
        finally
        {
            foreach (var c in open) await c.DisposeAsync();
        }
    }
}
