using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>MailKit's SmtpClient against the real host on real TCP: what a mail client and another MTA do.</summary>
public sealed class SmtpEndToEndTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private static SmtpClient Client() => new() { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };

    private static MimeMessage Message(string from, string to, string subject)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = $"Hello from {from}.\r\n.\r\n..a line with dots\r\nNon-ASCII: Grüße, 你好\r\n" };
        return m;
    }

    // Taken after sending: MailKit prepares the message (transfer encodings, Message-Id) as it sends.
    private static byte[] Bytes(MimeMessage m)
    {
        using var ms = new MemoryStream();
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos; // as on the wire
        m.WriteTo(options, ms);
        return ms.ToArray();
    }

    /// <summary>The stored message is the original below the added trace header lines.</summary>
    private static string AssertOriginalBelowTrace(byte[] stored, byte[] original)
    {
        Assert.True(stored.Length > original.Length);
        Assert.Equal(original, stored[^original.Length..]);
        return Encoding.UTF8.GetString(stored[..^original.Length]);
    }

    [Fact]
    public async Task Submission_with_STARTTLS_and_AUTH_delivers_the_original_bytes()
    {
        var m = Message($"alice@{D}", $"carol@{D}", "via 587");
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
            Assert.True(c.IsSecure);
            Assert.Contains("PLAIN", c.AuthenticationMechanisms);
            await c.AuthenticateAsync($"alice@{D}", SmtpHostFixture.Password);
            var reply = await c.SendAsync(m);
            Assert.StartsWith("2.0.0 Ok: queued as", reply);
            await c.DisconnectAsync(true);
        }
        var stored = (await host.WaitForMessages($"carol@{D}", 1)).Single();
        var trace = AssertOriginalBelowTrace(stored, Bytes(m));
        Assert.StartsWith($"Return-Path: <alice@{D}>\r\nReceived: from ", trace);
        Assert.Contains("with ESMTPSA", trace);
        Assert.Matches(@"\(using TLSv1\.[23] with cipher \w+\)", trace);
        Assert.Contains($"(authenticated as alice@{D})", trace);
        Assert.Contains($"for <carol@{D}>", trace);
    }

    [Fact]
    public async Task Submissions_over_implicit_TLS_delivers()
    {
        var m = Message($"bob@{D}", $"dave@{D}", "via 465");
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
            await c.AuthenticateAsync($"bob@{D}", SmtpHostFixture.Password);
            await c.SendAsync(m);
            await c.DisconnectAsync(true);
        }
        var trace = AssertOriginalBelowTrace((await host.WaitForMessages($"dave@{D}", 1)).Single(), Bytes(m));
        Assert.Contains("with ESMTPSA", trace);
    }

    [Fact]
    public async Task MX_accepts_mail_for_hosted_addresses_and_aliases_without_AUTH()
    {
        var m = Message("someone@example.org", $"sales@{D}", "to the alias");
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.StartTlsWhenAvailable);
            Assert.Empty(c.AuthenticationMechanisms);
            await c.SendAsync(m, MailboxAddress.Parse("someone@example.org"), [MailboxAddress.Parse($"sales@{D}")]);
            await c.DisconnectAsync(true);
        }
        // The alias reaches both targets, each with the original bytes.
        foreach (var target in new[] { $"alice@{D}", $"bob@{D}" })
        {
            var trace = AssertOriginalBelowTrace((await host.WaitForMessages(target, 1)).Single(), Bytes(m));
            Assert.Contains("with ESMTPS", trace);
            Assert.DoesNotContain("authenticated", trace);
            Assert.StartsWith("Return-Path: <someone@example.org>", trace);
        }
    }

    [Fact]
    public async Task Submission_adds_Message_ID_and_Date_when_missing()
    {
        var raw = Encoding.ASCII.GetBytes($"From: <erin@{D}>\r\nTo: <frank@{D}>\r\nSubject: bare\r\n\r\nno id, no date\r\n");
        var (c, greeting) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            Assert.StartsWith("220 ", greeting);
            await c.CommandAsync("EHLO client.test");
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0erin@{D}\0{SmtpHostFixture.Password}"));
            Assert.StartsWith("235 ", await c.CommandAsync("AUTH PLAIN " + auth));
            Assert.StartsWith("250 ", await c.CommandAsync($"MAIL FROM:<erin@{D}>"));
            Assert.StartsWith("250 ", await c.CommandAsync($"RCPT TO:<frank@{D}>"));
            Assert.StartsWith("354 ", await c.CommandAsync("DATA"));
            await c.SendRawAsync(raw);
            Assert.StartsWith("250 2.0.0", await c.CommandAsync("."));
        }
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"frank@{D}", 1)).Single());
        Assert.Matches(@"\r\nMessage-ID: <[0-9a-f]{32}@mx\.grainmail\.test>\r\n", stored);
        Assert.Matches(@"\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n", stored);
        Assert.EndsWith("\r\n\r\nno id, no date\r\n", stored);
    }

    [Fact]
    public async Task A_large_message_is_spooled_and_stored_byte_identical()
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse($"alice@{D}"));
        m.To.Add(MailboxAddress.Parse($"erin@{D}"));
        m.Subject = "big attachment";
        var payload = new byte[6 * 1024 * 1024];
        new Random(7).NextBytes(payload);
        var body = new BodyBuilder { TextBody = "see attached" };
        body.Attachments.Add("data.bin", payload);
        m.Body = body.ToMessageBody();
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
            await c.AuthenticateAsync($"alice@{D}", SmtpHostFixture.Password);
            await c.SendAsync(m);
            await c.DisconnectAsync(true);
        }
        var stored = (await host.WaitForMessages($"erin@{D}", 1)).Single();
        AssertOriginalBelowTrace(stored, Bytes(m));
        var spool = Path.Combine(host.DataDir, "spool");
        if (Directory.Exists(spool)) Assert.Empty(Directory.GetFiles(spool));
    }
}
