using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>POP3 transcripts (RFC 1939, 2449, 2595, 5034) against the real host.</summary>
public sealed class Pop3ProtocolTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    private async Task<string> UserWith(params string[] messages)
    {
        var local = "p" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        await using var imap = await RawImap.LoginAsync(host.Imaps, user, Pw);
        foreach (var m in messages)
        {
            var bytes = Encoding.UTF8.GetBytes(m);
            var tag = imap.NextTag();
            await imap.SendRawAsync($"{tag} APPEND INBOX {{{bytes.Length}+}}\r\n");
            await imap.SendRawAsync([.. bytes, .. "\r\n"u8]);
            Assert.True((await imap.ReadTaggedAsync(tag)).Ok);
        }
        return user;
    }

    private static async Task<List<string>> MultiLine(RawImap c)
    {
        var lines = new List<string>();
        while (await c.ReadLineAsync() is { } line && line != ".") lines.Add(line);
        return lines;
    }

    private static async Task<RawImap> Login(int port, string user)
    {
        var (c, greeting) = await RawImap.ConnectAsync(port, implicitTls: true);
        Assert.Equal("+OK GrainMail POP3 ready", greeting);
        await c.SendRawAsync($"USER {user}\r\n");
        Assert.StartsWith("+OK", await c.ReadLineAsync());
        await c.SendRawAsync($"PASS {Pw}\r\n");
        Assert.StartsWith("+OK Logged in", await c.ReadLineAsync());
        return c;
    }

    [Fact]
    public async Task Capa_and_no_password_before_STLS()
    {
        var (c, greeting) = await RawImap.ConnectAsync(host.Pop3);
        await using var _ = c;
        Assert.StartsWith("+OK", greeting);
        await c.SendRawAsync("CAPA\r\n");
        Assert.StartsWith("+OK", await c.ReadLineAsync());
        var caps = await MultiLine(c);
        Assert.Contains("STLS", caps);
        Assert.Contains("UIDL", caps);
        Assert.Contains("TOP", caps);
        Assert.DoesNotContain("SASL PLAIN LOGIN", caps);
        await c.SendRawAsync("USER alice@smtp.test\r\n");
        Assert.StartsWith("-ERR [AUTH]", await c.ReadLineAsync());
        await c.SendRawAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@smtp.test\0{Pw}")) + "\r\n");
        Assert.StartsWith("-ERR [AUTH]", await c.ReadLineAsync());
        await c.SendRawAsync("STAT\r\n");
        Assert.Equal("-ERR Log in first", await c.ReadLineAsync());
        await c.SendRawAsync("STLS\r\n");
        Assert.StartsWith("+OK", await c.ReadLineAsync());
        await c.UpgradeAsync();
        await c.SendRawAsync("CAPA\r\n");
        await c.ReadLineAsync();
        caps = await MultiLine(c);
        Assert.Contains("SASL PLAIN LOGIN", caps);
        Assert.DoesNotContain("STLS", caps);
        await c.SendRawAsync("AUTH PLAIN\r\n");
        Assert.Equal("+ ", await c.ReadLineAsync());
        await c.SendRawAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@smtp.test\0{Pw}")) + "\r\n");
        Assert.StartsWith("+OK Logged in", await c.ReadLineAsync());
    }

    [Fact]
    public async Task Stat_list_uidl_top_retr_with_dot_stuffing()
    {
        var m1 = "Subject: one\r\nFrom: a@b.test\r\n\r\nfirst line\r\n.leading dot\r\n..two dots\r\n.\r\nlast";
        var m2 = "Subject: two\r\n\r\nbody\r\n";
        var user = await UserWith(m1, m2);
        await using var c = await Login(host.Pop3s, user);
        await c.SendRawAsync("STAT\r\n");
        Assert.Equal($"+OK 2 {m1.Length + m2.Length}", await c.ReadLineAsync());
        await c.SendRawAsync("LIST\r\n");
        Assert.Equal("+OK", await c.ReadLineAsync());
        Assert.Equal([$"1 {m1.Length}", $"2 {m2.Length}"], await MultiLine(c));
        await c.SendRawAsync("LIST 2\r\n");
        Assert.Equal($"+OK 2 {m2.Length}", await c.ReadLineAsync());
        await c.SendRawAsync("UIDL\r\n");
        Assert.Equal("+OK", await c.ReadLineAsync());
        var uidl = await MultiLine(c);
        Assert.Equal(2, uidl.Count);
        Assert.Matches(@"^1 [0-9a-f]+\.1$", uidl[0]);
        await c.SendRawAsync("TOP 1 1\r\n");
        Assert.StartsWith("+OK", await c.ReadLineAsync());
        Assert.Equal(["Subject: one", "From: a@b.test", "", "first line"], await MultiLine(c));
        await c.SendRawAsync("RETR 1\r\n");
        Assert.Equal($"+OK {m1.Length} octets", await c.ReadLineAsync());
        // Lines starting with '.' are sent with another '.', and a last line without CRLF gets one.
        Assert.Equal(["Subject: one", "From: a@b.test", "", "first line", "..leading dot", "...two dots", "..", "last"], await MultiLine(c));
        await c.SendRawAsync("RETR 3\r\n");
        Assert.Equal("-ERR No such message", await c.ReadLineAsync());
        await c.SendRawAsync("TOP 1\r\n");
        Assert.StartsWith("-ERR Syntax", await c.ReadLineAsync());
        await c.SendRawAsync("NOOP\r\n");
        Assert.Equal("+OK", await c.ReadLineAsync());
    }

    [Fact]
    public async Task Deletions_apply_only_at_QUIT_and_RSET_undoes_them()
    {
        var user = await UserWith("Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n", "Subject: c\r\n\r\nc\r\n");
        string uidOfThird;
        await using (var c = await Login(host.Pop3s, user))
        {
            await c.SendRawAsync("UIDL 3\r\n");
            uidOfThird = (await c.ReadLineAsync())!.Split(' ')[2];
            await c.SendRawAsync("DELE 1\r\n");
            Assert.Equal("+OK Message 1 deleted", await c.ReadLineAsync());
            await c.SendRawAsync("DELE 1\r\n");
            Assert.Equal("-ERR Message already deleted", await c.ReadLineAsync());
            await c.SendRawAsync("RETR 1\r\n");
            Assert.Equal("-ERR Message already deleted", await c.ReadLineAsync());
            await c.SendRawAsync("STAT\r\n");
            Assert.StartsWith("+OK 2 ", await c.ReadLineAsync());
            await c.SendRawAsync("RSET\r\n");
            Assert.StartsWith("+OK", await c.ReadLineAsync());
            await c.SendRawAsync("DELE 2\r\n");
            await c.ReadLineAsync();
            // Dropping the connection without QUIT applies nothing.
        }
        await using (var c = await Login(host.Pop3s, user))
        {
            await c.SendRawAsync("STAT\r\n");
            Assert.StartsWith("+OK 3 ", await c.ReadLineAsync());
            await c.SendRawAsync("DELE 2\r\nQUIT\r\n");
            await c.ReadLineAsync();
            Assert.Equal("+OK Bye, 1 messages deleted", await c.ReadLineAsync());
        }
        await using (var c = await Login(host.Pop3s, user))
        {
            await c.SendRawAsync("UIDL\r\n");
            await c.ReadLineAsync();
            var uidl = await MultiLine(c);
            Assert.Equal(2, uidl.Count);
            // Numbers are per session; unique ids stay.
            Assert.Equal($"2 {uidOfThird}", uidl[1]);
        }
    }

    [Fact]
    public async Task Bad_input_gets_ERR_and_the_session_survives()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using var _c = c;
        await c.SendRawAsync("FROB\r\n");
        Assert.Equal("-ERR Unknown command", await c.ReadLineAsync());
        await c.SendRawAsync("USER " + new string('x', 600) + "\r\n");
        Assert.Equal("-ERR Line too long", await c.ReadLineAsync());
        await c.SendRawAsync("US\0ER x\r\n");
        Assert.StartsWith("-ERR Syntax", await c.ReadLineAsync());
        await c.SendRawAsync("PASS x\r\n");
        Assert.Equal("-ERR Send USER first", await c.ReadLineAsync());
        await c.SendRawAsync("USER nobody@smtp.test\r\nPASS wrong\r\n");
        await c.ReadLineAsync();
        Assert.Equal("-ERR [AUTH] Authentication failed", await c.ReadLineAsync());
        await c.SendRawAsync("AUTH PLAIN !!!notbase64\r\n");
        Assert.Equal("-ERR Malformed authentication response", await c.ReadLineAsync());
        await c.SendRawAsync("QUIT\r\n");
        Assert.StartsWith("+OK", await c.ReadLineAsync());
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task Three_failed_logins_close_the_session()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using var _c = c;
        for (var i = 0; i < 3; i++)
        {
            await c.SendRawAsync($"USER erin@smtp.test\r\nPASS wrong{i}\r\n");
            await c.ReadLineAsync();
            Assert.Equal("-ERR [AUTH] Authentication failed", await c.ReadLineAsync());
        }
        Assert.StartsWith("-ERR Too many", await c.ReadLineAsync());
        Assert.True(await c.ClosedAsync());
    }
}
