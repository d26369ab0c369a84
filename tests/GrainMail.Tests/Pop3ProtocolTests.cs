using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Pop3;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>POP3 transcripts (RFC 1939, 2449, 2595, 3206, 5034) against the real host.</summary>
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

    /// <summary>
    /// Logs in once the maildrop lock of an earlier session that dropped without QUIT is let go
    /// (the server learns of the drop a moment after the client closes).
    /// </summary>
    private static async Task<RawImap> LoginWhenFree(int port, string user)
    {
        RawImap? session = null;
        await Eventually.Until(async () =>
        {
            var (c, _) = await RawImap.ConnectAsync(port, implicitTls: true);
            await c.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\n");
            await c.ReadLineAsync();
            var reply = await c.ReadLineAsync();
            if (reply?.StartsWith("+OK Logged in", StringComparison.Ordinal) == true)
            {
                session = c;
                return true;
            }
            Assert.Equal("-ERR [IN-USE] The maildrop is in use by another POP3 session", reply);
            await c.DisposeAsync();
            return false;
        }, TimeSpan.FromSeconds(20), "the maildrop lock of the dropped session released", poll: TimeSpan.FromMilliseconds(100));
        return session!;
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
        await using (var c = await LoginWhenFree(host.Pop3s, user))
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

    [Fact]
    public async Task Pipelined_commands_in_one_write_are_all_answered_in_order()
    {
        var m1 = "Subject: one\r\n\r\nbody one\r\nline two\r\n";
        var m2 = "Subject: two\r\n\r\n.dot\r\n";
        var user = await UserWith(m1, m2);
        var (c, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using var _c = c;
        // RFC 2449 §6.6: with PIPELINING a client sends commands without waiting; every one is answered, in order.
        await c.SendRawAsync($"CAPA\r\nUSER {user}\r\nPASS {Pw}\r\nSTAT\r\nLIST\r\nUIDL 2\r\nTOP 1 1\r\nRETR 2\r\n" +
            "DELE 1\r\nRETR 1\r\nSTAT\r\nRSET\r\nFROB\r\nNOOP\r\nQUIT\r\n");
        Assert.Equal("+OK Capability list follows", await c.ReadLineAsync());
        Assert.Contains("PIPELINING", await MultiLine(c));
        Assert.Equal("+OK Send PASS", await c.ReadLineAsync());
        Assert.Equal("+OK Logged in, 2 messages", await c.ReadLineAsync());
        Assert.Equal($"+OK 2 {m1.Length + m2.Length}", await c.ReadLineAsync());
        Assert.Equal("+OK", await c.ReadLineAsync());
        Assert.Equal([$"1 {m1.Length}", $"2 {m2.Length}"], await MultiLine(c));
        Assert.Matches(@"^\+OK 2 [0-9a-f]+\.2$", await c.ReadLineAsync());
        Assert.Equal("+OK Top of message follows", await c.ReadLineAsync());
        Assert.Equal(["Subject: one", "", "body one"], await MultiLine(c));
        Assert.Equal($"+OK {m2.Length} octets", await c.ReadLineAsync());
        Assert.Equal(["Subject: two", "", "..dot"], await MultiLine(c));
        Assert.Equal("+OK Message 1 deleted", await c.ReadLineAsync());
        Assert.Equal("-ERR Message already deleted", await c.ReadLineAsync());
        Assert.Equal($"+OK 1 {m2.Length}", await c.ReadLineAsync());
        Assert.Equal("+OK 2 messages", await c.ReadLineAsync());
        Assert.Equal("-ERR Unknown command", await c.ReadLineAsync());
        Assert.Equal("+OK", await c.ReadLineAsync());
        Assert.Equal("+OK Bye, 0 messages deleted", await c.ReadLineAsync());
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task A_second_session_gets_IN_USE_until_the_first_one_quits_or_drops()
    {
        var user = await UserWith("Subject: a\r\n\r\na\r\n");
        var first = await Login(host.Pop3s, user);
        var (second, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using var _s = second;
        // RFC 1939 §4: the maildrop is locked; RFC 2449 §8.1.2: [IN-USE]. It is no authentication
        // failure: three of them do not close the session.
        for (var i = 0; i < 3; i++)
        {
            await second.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\n");
            Assert.Equal("+OK Send PASS", await second.ReadLineAsync());
            Assert.Equal("-ERR [IN-USE] The maildrop is in use by another POP3 session", await second.ReadLineAsync());
        }
        await second.SendRawAsync("STAT\r\n");
        Assert.Equal("-ERR Log in first", await second.ReadLineAsync());

        await first.SendRawAsync("QUIT\r\n");
        Assert.StartsWith("+OK Bye", await first.ReadLineAsync());
        await first.DisposeAsync();
        await second.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\n");
        await second.ReadLineAsync();
        Assert.Equal("+OK Logged in, 1 messages", await second.ReadLineAsync());

        // A session that drops without QUIT lets go of the lock as well.
        await second.DisposeAsync();
        await using var third = await LoginWhenFree(host.Pop3s, user);
        await third.SendRawAsync("STAT\r\n");
        Assert.StartsWith("+OK 1 ", await third.ReadLineAsync());
    }

    [Fact]
    public async Task Commands_of_the_other_state_get_ERR_and_CAPA_is_the_same_in_both()
    {
        var user = await UserWith("Subject: a\r\n\r\na\r\n");
        var (c, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using var _c = c;
        await c.SendRawAsync("CAPA\r\n");
        await c.ReadLineAsync();
        var before = await MultiLine(c);
        Assert.Contains("USER", before);
        Assert.Contains("RESP-CODES", before);
        Assert.Contains("AUTH-RESP-CODE", before);
        // RFC 1939 §5: TRANSACTION commands before login.
        foreach (var command in new[] { "STAT", "LIST", "UIDL", "RETR 1", "TOP 1 0", "DELE 1", "RSET", "NOOP", "LIST x" })
        {
            await c.SendRawAsync(command + "\r\n");
            Assert.Equal("-ERR Log in first", await c.ReadLineAsync());
        }
        await c.SendRawAsync($"USER {user}\r\nPASS {Pw}\r\n");
        await c.ReadLineAsync();
        Assert.StartsWith("+OK Logged in", await c.ReadLineAsync());
        // RFC 1939 §4, RFC 2595 §4, RFC 5034 §4: AUTHORIZATION commands after login.
        foreach (var command in new[] { "USER someone", "PASS secret", "AUTH PLAIN", "AUTH", "STLS", "USER" })
        {
            await c.SendRawAsync(command + "\r\n");
            Assert.Equal("-ERR Already logged in", await c.ReadLineAsync());
        }
        // RFC 2449 §5: what was announced in AUTHORIZATION is announced in TRANSACTION too.
        await c.SendRawAsync("CAPA\r\n");
        await c.ReadLineAsync();
        Assert.Equal(before, await MultiLine(c));
        await c.SendRawAsync("STAT\r\n");
        Assert.StartsWith("+OK 1 ", await c.ReadLineAsync());
    }

    [Fact]
    public async Task MailKit_reads_headers_and_messages_and_deletes_through_pipelined_TOP_RETR_and_DELE()
    {
        var user = await UserWith(
            "Subject: first\r\n\r\none\r\n", "Subject: second\r\n\r\ntwo\r\n", "Subject: third\r\n\r\nthree\r\n");
        string[] uids;
        using (var p = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await p.ConnectAsync("127.0.0.1", host.Pop3s, SecureSocketOptions.SslOnConnect);
            await p.AuthenticateAsync(user, Pw);
            foreach (var cap in new[] { Pop3Capabilities.Top, Pop3Capabilities.UIDL, Pop3Capabilities.Pipelining,
                Pop3Capabilities.ResponseCodes, Pop3Capabilities.User, Pop3Capabilities.Sasl })
                Assert.True(p.Capabilities.HasFlag(cap), cap.ToString());
            Assert.False(p.Capabilities.HasFlag(Pop3Capabilities.StartTLS));
            uids = [.. await p.GetMessageUidsAsync()];
            Assert.Equal(3, uids.Distinct().Count());
            // TOP n 0 for each message, sent pipelined.
            var headers = await p.GetMessageHeadersAsync([0, 1, 2]);
            Assert.Equal(["first", "second", "third"], headers.Select(h => h["Subject"]));
            var messages = await p.GetMessagesAsync([1, 2]);
            Assert.Equal("two", messages[0].TextBody?.Trim());
            await p.DeleteMessagesAsync([0, 2]);
            await p.DisconnectAsync(true);
        }
        using (var p = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await p.ConnectAsync("127.0.0.1", host.Pop3, SecureSocketOptions.StartTls);
            await p.AuthenticateAsync(user, Pw);
            Assert.Equal(1, p.Count);
            Assert.Equal(uids[1], await p.GetMessageUidAsync(0));
            await p.DisconnectAsync(true);
        }
    }
}
