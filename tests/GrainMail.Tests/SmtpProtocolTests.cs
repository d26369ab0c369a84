using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>Raw SMTP transcripts against the real host: every command, reply code and limit.</summary>
public sealed class SmtpProtocolTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private async Task<RawSmtp> Mx(bool ehlo = true)
    {
        var (c, greeting) = await RawSmtp.ConnectAsync(host.Mx);
        Assert.StartsWith("220 mx.grainmail.test ESMTP", greeting);
        if (ehlo) Assert.StartsWith("250", await c.CommandAsync("EHLO client.example.org"));
        return c;
    }

    private async Task<RawSmtp> AuthenticatedSubmission(string user)
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await c.CommandAsync("EHLO client.example.org");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}@{D}\0{SmtpHostFixture.Password}"));
        Assert.StartsWith("235 2.7.0", await c.CommandAsync("AUTH PLAIN " + auth));
        return c;
    }

    private static void Code(string expected, string reply) =>
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"expected '{expected}…', got '{reply}'");

    [Fact]
    public async Task Basic_commands_answer_with_the_right_codes()
    {
        await using var c = await Mx(ehlo: false);
        var ehlo = await c.CommandAsync("EHLO client.example.org");
        foreach (var ext in new[] { "PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS" })
            Assert.Contains("250-" + ext, ehlo.Replace("250 " + ext, "250-" + ext));
        Assert.DoesNotContain("AUTH", ehlo); // never on the MX port
        Code("250 mx.grainmail.test", await c.CommandAsync("HELO client.example.org"));
        Code("501 5.5.4", await c.CommandAsync("EHLO"));
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
        Code("252 2.5.0", await c.CommandAsync($"VRFY alice@{D}"));
        Code("214 2.0.0", await c.CommandAsync("HELP"));
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Code("500 5.5.1", await c.CommandAsync("FROB"));
        Code("502 5.5.1", await c.CommandAsync("AUTH PLAIN AGFAYg=="));
        Code("221 2.0.0", await c.CommandAsync("QUIT"));
        Assert.Equal("", await c.ReadReplyAsync()); // closed
    }

    [Fact]
    public async Task Commands_out_of_sequence_get_503()
    {
        await using var c = await Mx(ehlo: false);
        Code("503 5.5.1", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        await c.CommandAsync("EHLO x.example.org");
        Code("503 5.5.1", await c.CommandAsync($"RCPT TO:<alice@{D}>"));
        Code("503 5.5.1", await c.CommandAsync("DATA"));
        Code("250 2.1.0", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Code("503 5.5.1", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Code("554 5.5.1", await c.CommandAsync("DATA"));
        Code("501 5.5.4", await c.CommandAsync("RCPT TO:alice"));
        Code("555 5.5.4", await c.CommandAsync($"RCPT TO:<alice@{D}> FOO=BAR"));
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Code("250 2.1.0", await c.CommandAsync("MAIL FROM:<>")); // the null reverse-path (bounces)
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Code("250 2.1.0", await c.CommandAsync("mail from:<a@example.org> body=8bitmime ret=hdrs ENVID=x1 size=100"));
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Code("555 5.5.4", await c.CommandAsync("MAIL FROM:<a@example.org> BODY=9BIT"));
    }

    [Fact]
    public async Task Recipients_are_checked_at_RCPT()
    {
        await using var c = await Mx();
        Code("250 2.1.0", await c.CommandAsync("MAIL FROM:<someone@example.org>"));
        Code("550 5.1.1", await c.CommandAsync($"RCPT TO:<nobody@{D}>"));
        Code("550 5.7.1", await c.CommandAsync("RCPT TO:<victim@gmail.com>")); // never an open relay
        Code("501 5.1.3", await c.CommandAsync("RCPT TO:<not an address>"));
        Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<ALICE@{D.ToUpperInvariant()}>"));
        Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<alice+news@{D}>")); // sub-address
        Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<sales@{D}>")); // alias
        Code("553 5.6.7", await c.CommandAsync($"RCPT TO:<jörg@{D}>")); // non-ASCII without SMTPUTF8
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Code("552 5.3.4", await c.CommandAsync("MAIL FROM:<a@example.org> SIZE=999999999999"));
    }

    [Fact]
    public async Task Disabled_and_full_mailboxes_are_refused_with_their_own_codes()
    {
        await host.NewAccount("tiny", quotaBytes: 1000);
        await host.NewAccount("off");
        var r = await host.Host.Http.PutAsync($"/api/v1/accounts/off@{D}/enabled",
            new StringContent("{\"enabled\":false}", Encoding.UTF8, "application/json"));
        Assert.True(r.IsSuccessStatusCode);
        await using var c = await Mx();
        Code("250 2.1.0", await c.CommandAsync("MAIL FROM:<a@example.org> SIZE=5000"));
        Code("452 4.2.2", await c.CommandAsync($"RCPT TO:<tiny@{D}>"));
        Code("550 5.2.1", await c.CommandAsync($"RCPT TO:<off@{D}>"));
        // A domain's own size limit (3000 bytes for small.test) applies at RCPT when SIZE says more.
        await host.NewAccount("user", "small.test");
        Code("552 5.3.4", await c.CommandAsync("RCPT TO:<user@small.test>"));
    }

    [Fact]
    public async Task More_than_a_hundred_recipients_get_452_4_5_3()
    {
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        var pipeline = new StringBuilder();
        for (var i = 0; i < 101; i++) pipeline.Append($"RCPT TO:<alice+{i}@{D}>\r\n");
        await c.SendRawAsync(pipeline.ToString());
        for (var i = 0; i < 100; i++) Code("250 2.1.5", await c.ReadReplyAsync());
        Code("452 4.5.3", await c.ReadReplyAsync());
    }

    [Fact]
    public async Task Pipelined_transaction_and_dot_stuffing()
    {
        await using var c = await Mx();
        var body = "Subject: dots\r\n\r\nfirst\r\n..\r\n...two\r\n.x\r\nlast line";
        // All of it in one write: MAIL, RCPT, DATA, the body and the final dot.
        await c.SendRawAsync($"MAIL FROM:<p@example.org>\r\nRCPT TO:<carol@{D}>\r\nDATA\r\n{body}\r\n.\r\nNOOP\r\n");
        Code("250 2.1.0", await c.ReadReplyAsync());
        Code("250 2.1.5", await c.ReadReplyAsync());
        Code("354", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.ReadReplyAsync());
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"carol@{D}", 1)).Single());
        // ".." becomes ".", "...two" becomes "..two", ".x" becomes "x"; the last line gains its CRLF.
        Assert.EndsWith("Subject: dots\r\n\r\nfirst\r\n.\r\n..two\r\nx\r\nlast line\r\n", stored);
    }

    [Fact]
    public async Task Smuggling_attempts_do_not_end_DATA()
    {
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<dave@{D}>"));
        Code("354", await c.CommandAsync("DATA"));
        // Each of these would end DATA on a lax server and start a second, forged transaction.
        // They stay content, and their bare LF and bare CR become CRLF like every line end.
        await c.SendRawAsync("Subject: smuggle\r\n\r\nA\n.\nMAIL FROM:<x@evil.example>\r\nB\n.\r\nC\r.\rD\r\n");
        await c.SendRawAsync(".\r\n");
        Code("250 2.0.0", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
        var all = await host.WaitForMessages($"dave@{D}", 1);
        // No forged second message follows the first: it stays one for half a second.
        await Eventually.HoldsFor(async () => (await host.StoredMessages($"dave@{D}")).Count == 1, TimeSpan.FromMilliseconds(500), $"exactly one message for dave@{D}");
        Assert.Single(await host.StoredMessages($"dave@{D}"));
        Assert.EndsWith("\r\n\r\nA\r\n.\r\nMAIL FROM:<x@evil.example>\r\nB\r\n.\r\nC\r\n.\r\nD\r\n", Encoding.UTF8.GetString(all[0]));
    }

    [Fact]
    public async Task BDAT_chunks_with_LAST()
    {
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<b@example.org> BODY=8BITMIME"));
        Code("250", await c.CommandAsync($"RCPT TO:<erin@{D}>"));
        var part1 = "Subject: chunks\r\n\r\n.starts with a dot\r\n";
        var part2 = "and is not unstuffed\r\n.\r\n";
        await c.SendRawAsync($"BDAT {Encoding.ASCII.GetByteCount(part1)}\r\n{part1}");
        Code($"250 2.0.0 {Encoding.ASCII.GetByteCount(part1)} octets", await c.ReadReplyAsync());
        await c.SendRawAsync($"BDAT {Encoding.ASCII.GetByteCount(part2)} LAST\r\n{part2}");
        Code("250 2.0.0 Ok", await c.ReadReplyAsync());
        Code("503 5.5.1", await c.CommandAsync("DATA")); // the transaction is over
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"erin@{D}", 1)).Single());
        Assert.EndsWith(part1 + part2, stored);
    }

    [Fact]
    public async Task Oversize_message_gets_552_and_the_session_stays_usable()
    {
        await host.NewAccount("big", "small.test");
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<o@example.org>"));
        Code("250", await c.CommandAsync("RCPT TO:<big@small.test>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 70) + "\r\n", 100)) + ".\r\n");
        Code("552 5.3.4", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
        Assert.Equal(0, await host.InboxCount("big@small.test"));
    }

    [Fact]
    public async Task Long_lines_NUL_and_invalid_UTF8_get_syntax_errors_not_a_crash()
    {
        await using var c = await Mx();
        Code("500 5.5.2", await c.CommandAsync("NOOP " + new string('a', 5000)));
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
        await c.SendRawAsync([(byte)'N', (byte)'O', 0, (byte)'P', 13, 10]);
        Code("500 5.5.2", await c.ReadReplyAsync());
        await c.SendRawAsync([(byte)'N', (byte)'O', (byte)'O', (byte)'P', (byte)' ', 0xC3, 0x28, 13, 10]);
        Code("500 5.5.2", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Too_many_errors_end_the_session_with_421()
    {
        await using var c = await Mx();
        for (var i = 0; i < 10; i++) Code("500", await c.CommandAsync("BOGUS"));
        Code("421 4.7.0", await c.CommandAsync("BOGUS"));
        Assert.Equal("", await c.ReadReplyAsync());
    }

    [Fact]
    public async Task Submission_requires_TLS_before_AUTH_and_AUTH_before_MAIL()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Submission);
        await using (c)
        {
            var ehlo = await c.CommandAsync("EHLO client.example.org");
            Assert.Contains("STARTTLS", ehlo);
            Assert.DoesNotContain("AUTH", ehlo);
            Code("530 5.7.0", await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@{D}\0{SmtpHostFixture.Password}"))));
            Code("530 5.7.0", await c.CommandAsync($"MAIL FROM:<alice@{D}>"));
            // Pipelining past STARTTLS is refused (plain-text command injection).
            await c.SendRawAsync("STARTTLS\r\nNOOP\r\n");
            Code("501 5.5.4", await c.ReadReplyAsync());
            Code("250", await c.ReadReplyAsync());
            Code("220 2.0.0", await c.CommandAsync("STARTTLS"));
            await c.UpgradeAsync();
            Code("503 5.5.1", await c.CommandAsync($"MAIL FROM:<alice@{D}>")); // EHLO again after TLS
            Assert.Contains("AUTH PLAIN LOGIN", await c.CommandAsync("EHLO client.example.org"));
            Code("334 ", await c.CommandAsync("AUTH LOGIN"));
            Code("334 ", await c.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice@{D}"))));
            Code("235 2.7.0", await c.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(SmtpHostFixture.Password))));
            Code("503 5.5.1", await c.CommandAsync("AUTH PLAIN x"));
        }
    }

    [Fact]
    public async Task Authenticated_users_cannot_spoof_senders()
    {
        await using var c = await AuthenticatedSubmission("bob");
        Code("553 5.7.1", await c.CommandAsync($"MAIL FROM:<alice@{D}>"));
        Code("553 5.7.1", await c.CommandAsync("MAIL FROM:<ceo@bank.example>"));
        Code("250 2.1.0", await c.CommandAsync($"MAIL FROM:<sales@{D}>")); // an alias that reaches bob
        Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<frank@{D}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync($"From: Alice <alice@{D}>\r\nSubject: spoof\r\n\r\nx\r\n.\r\n");
        Code("553 5.7.1", await c.ReadReplyAsync());
        Code("250 2.1.0", await c.CommandAsync($"MAIL FROM:<bob@{D}>"));
        // Submission after AUTH may send outside (OutboundTests follow it out); the MX port never relays.
        Code("250 2.1.5", await c.CommandAsync("RCPT TO:<someone@elsewhere.example>"));
        Code("250 2.0.0", await c.CommandAsync("RSET"));
        Assert.Equal(0, await host.InboxCount($"frank@{D}"));
    }

    [Fact]
    public async Task Repeated_AUTH_failures_close_the_session_and_lock_the_account()
    {
        // An account of its own: the lockout now mails the user a notice, which must not land in the
        // INBOX another test counts.
        await host.NewAccount("lockme");
        string Plain(string pw) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0lockme@{D}\0{pw}"));
        var failures = 0;
        while (failures < 10)
        {
            var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
            await using (c)
            {
                await c.CommandAsync("EHLO attacker.example");
                Code("535 5.7.8", await c.CommandAsync("AUTH PLAIN " + Plain("guess" + failures++)));
                Code("535 5.7.8", await c.CommandAsync("AUTH PLAIN " + Plain("guess" + failures++)));
                Code("421 4.7.0", await c.CommandAsync("AUTH PLAIN " + Plain("guess" + failures++)));
                Assert.Equal("", await c.ReadReplyAsync());
            }
        }
        // Now locked: even the right password is refused, with the same answer.
        var (d, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (d)
        {
            await d.CommandAsync("EHLO client.example.org");
            Code("535 5.7.8", await d.CommandAsync("AUTH PLAIN " + Plain(SmtpHostFixture.Password)));
        }
    }
}
