using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

public sealed class TightImapHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__ImapLoginTimeout"] = "00:00:02",
        ["GrainMail__ImapIdleTimeout"] = "00:00:03",
        ["GrainMail__ImapMaxConnectionsPerIp"] = "3",
        ["GrainMail__MaxMessageBytes"] = "20000",
        ["GrainMail__ImapMaxSearchBytes"] = "30000",
    };
}

/// <summary>IMAP and POP3 defences: timeouts, connection caps, APPENDLIMIT, and the lockout shared with SMTP.</summary>
public sealed class ImapLimitTests(TightImapHostFixture host) : IClassFixture<TightImapHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    [Fact]
    public async Task A_silent_client_is_logged_out_before_and_after_login()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using (c)
        {
            Assert.Equal("* BYE Autologout; idle for too long", await c.ReadLineAsync());
            Assert.True(await c.ClosedAsync());
        }
        await using var d = await RawImap.LoginAsync(host.Imaps, "alice@smtp.test", Pw);
        await d.CommandAsync("SELECT INBOX");
        await d.SendRawAsync("i1 IDLE\r\n");
        Assert.StartsWith("+", await d.ReadLineAsync());
        Assert.Equal("* BYE Autologout; idle for too long", await d.ReadLineAsync());
        Assert.True(await d.ClosedAsync());
    }

    [Fact]
    public async Task Connections_per_address_are_capped()
    {
        var open = new List<RawImap>();
        try
        {
            // Another test of this class may still be counted for a moment (and released at any time):
            // connect, holding every connection, until one is refused — at most the cap (3) and two more.
            RawImap? extra = null;
            string? refused = null;
            for (var i = 0; i < 5 && refused is null; i++)
            {
                var (c, greeting) = await RawImap.ConnectAsync(host.Imap);
                open.Add(c);
                if (greeting.StartsWith("* BYE", StringComparison.Ordinal)) (extra, refused) = (c, greeting);
            }
            Assert.NotNull(extra);
            Assert.Equal("* BYE Too many connections, try again later", refused);
            Assert.True(await extra.ClosedAsync());
            // POP3 keeps its own count.
            var (pop, popGreeting) = await RawImap.ConnectAsync(host.Pop3);
            open.Add(pop);
            Assert.StartsWith("+OK", popGreeting);
        }
        finally
        {
            foreach (var c in open) await c.DisposeAsync();
            // The server counts a connection until it has seen it close: wait for that, so that the
            // next test of this class does not meet the cap.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                var (probe, greeting) = await RawImap.ConnectAsync(host.Imap);
                await probe.DisposeAsync();
                if (greeting.StartsWith("* OK", StringComparison.Ordinal)) break;
                await Task.Delay(50);
            }
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task APPENDLIMIT_is_advertised_and_enforced()
    {
        await using var c = await RawImap.LoginAsync(host.Imaps, "bob@smtp.test", Pw);
        var caps = await c.CommandAsync("CAPABILITY");
        Assert.Contains("APPENDLIMIT=20000", caps.Untagged[0]);
        await c.SendRawAsync("a1 APPEND INBOX {20001}\r\n");
        Assert.StartsWith("a1 NO [TOOBIG]", await c.ReadLineAsync());
        var fits = "Subject: fits\r\n\r\n" + new string('x', 19_000) + "\r\n";
        await c.SendRawAsync($"a2 APPEND INBOX {{{fits.Length}}}\r\n");
        Assert.StartsWith("+", await c.ReadLineAsync());
        await c.SendRawAsync(fits + "\r\n");
        Assert.StartsWith("OK [APPENDUID", (await c.ReadTaggedAsync("a2")).Tagged);
    }

    [Fact]
    public async Task A_SEARCH_that_would_read_more_than_its_byte_budget_is_refused_with_LIMIT()
    {
        await using var c = await RawImap.LoginAsync(host.Imaps, "erin@smtp.test", Pw);
        await c.CommandAsync("CREATE SearchBudget");
        for (var i = 0; i < 3; i++)
        {
            var message = $"Subject: part {i}\r\n\r\n" + new string('x', 12_000) + (i == 1 ? " needle" : "") + "\r\n";
            await c.SendRawAsync($"a{i} APPEND SearchBudget {{{message.Length}+}}\r\n{message}\r\n");
            Assert.StartsWith("OK", (await c.ReadTaggedAsync($"a{i}")).Tagged);
        }
        await c.CommandAsync("SELECT SearchBudget");
        // Three messages of 12 KB are more than the 30,000 octets one search may read.
        var refused = await c.CommandAsync("SEARCH TEXT needle");
        Assert.StartsWith("NO [LIMIT]", refused.Tagged);
        Assert.DoesNotContain(refused.Untagged, l => l.StartsWith("* SEARCH", StringComparison.Ordinal));
        // Narrowed by sequence numbers (decided from the index first) it reads two and finds the one.
        var narrowed = await c.CommandAsync("SEARCH 1:2 TEXT needle");
        Assert.StartsWith("OK", narrowed.Tagged);
        Assert.Contains("* SEARCH 2", narrowed.Untagged);
        // Searches that need no message bytes are not counted.
        Assert.StartsWith("OK", (await c.CommandAsync("SEARCH ALL")).Tagged);
        // And the session goes on.
        Assert.StartsWith("OK", (await c.CommandAsync("NOOP")).Tagged);
    }

    [Fact]
    public async Task Failed_logins_over_IMAP_and_POP3_lock_the_account_for_SMTP_too()
    {
        const string user = "frank@smtp.test";
        // Ten failures in all (the account's lockout threshold), three per session at most.
        var failures = 0;
        while (failures < 10)
        {
            var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
            await using (c)
            {
                for (var i = 0; i < 3 && failures < 10; i++, failures++)
                    Assert.StartsWith("NO [AUTHENTICATIONFAILED]", (await c.CommandAsync($"LOGIN {user} wrong{failures}")).Tagged);
            }
        }
        // The right password no longer works anywhere for a while.
        var (d, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using (d)
            Assert.StartsWith("NO [AUTHENTICATIONFAILED]", (await d.CommandAsync($"LOGIN {user} \"{Pw}\"")).Tagged);
        var (p, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using (p)
        {
            await p.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\n");
            await p.ReadLineAsync();
            Assert.Equal("-ERR [AUTH] Authentication failed", await p.ReadLineAsync());
        }
        var (s, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (s)
        {
            await s.CommandAsync("EHLO client.example.org");
            var auth = await s.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{Pw}")));
            Assert.StartsWith("535 5.7.8", auth);
        }
    }
}
