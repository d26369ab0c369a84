using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

public sealed class TightPop3HostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__Pop3AutologoutTimeout"] = "00:00:03",
        ["GrainMail__Pop3MaxConnectionsPerIp"] = "2",
    };
}

/// <summary>POP3 limits with their RFC answers: the autologout timer (RFC 1939 §3, §6) and [SYS/TEMP] (RFC 3206).</summary>
public sealed class Pop3LimitTests(TightPop3HostFixture host) : IClassFixture<TightPop3HostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    [Fact]
    public async Task Autologout_closes_a_silent_session_without_entering_UPDATE()
    {
        var local = "q" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        await host.StoreDirectAsync(user, Encoding.ASCII.GetBytes("Subject: kept\r\n\r\nkept\r\n"));
        await host.WaitForMessages(user, 1);

        var (c, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using (c)
        {
            await c.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\nDELE 1\r\n");
            await c.ReadLineAsync();
            Assert.StartsWith("+OK Logged in", await c.ReadLineAsync());
            Assert.Equal("+OK Message 1 deleted", await c.ReadLineAsync());
            // Silent past the timer: closed, and the deletion is not applied (RFC 1939 §3: no UPDATE).
            Assert.Equal("-ERR Autologout; idle for too long", await c.ReadLineAsync());
            Assert.True(await c.ClosedAsync());
        }
        // The lock went with the session: a new one logs in at once and finds the message.
        var (d, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using (d)
        {
            await d.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\nSTAT\r\nQUIT\r\n");
            await d.ReadLineAsync();
            Assert.StartsWith("+OK Logged in, 1 messages", await d.ReadLineAsync());
            Assert.StartsWith("+OK 1 ", await d.ReadLineAsync());
            Assert.StartsWith("+OK Bye", await d.ReadLineAsync());
        }
    }

    [Fact]
    public async Task A_connection_over_the_cap_gets_SYS_TEMP_and_is_closed()
    {
        var open = new List<RawImap>();
        try
        {
            // Connections are held until the cap refuses one (a connection of another test may still
            // be counted, so the refusal can come before the third).
            RawImap? extra = null;
            string? refused = null;
            var accepted = 0;
            for (var i = 0; i < 4 && refused is null; i++)
            {
                var (c, greeting) = await RawImap.ConnectAsync(host.Pop3);
                open.Add(c);
                if (greeting.StartsWith("-ERR", StringComparison.Ordinal)) (extra, refused) = (c, greeting);
                else accepted++;
            }
            Assert.InRange(accepted, 1, 2);
            // RFC 3206 §4: a temporary condition; the client may try again later.
            Assert.Equal("-ERR [SYS/TEMP] Too many connections, try again later", refused);
            Assert.True(await extra!.ClosedAsync());
        }
        finally
        {
            foreach (var c in open) await c.DisposeAsync();
            // The server counts a connection until it has seen it close: the next test waits for that.
            await Eventually.Until(async () =>
            {
                var (probe, greeting) = await RawImap.ConnectAsync(host.Pop3);
                await probe.DisposeAsync();
                return greeting.StartsWith("+OK", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(10), "the POP3 connection count back under the cap", poll: TimeSpan.FromMilliseconds(50));
        }
    }
}
