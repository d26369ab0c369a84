using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// What the inbound trust and virus tests do to a host again and again: send one message over the MX port
/// (from a chosen loopback address), count a folder through the admin API, and read a folder back over IMAP.
/// </summary>
public static class TrustMail
{
    /// <summary>One message over the MX port from <paramref name="from"/> (127.0.0.1 unless given); the reply to
    /// the end of DATA. Line ends become CRLF and leading dots are doubled (RFC 5321 4.5.2).</summary>
    public static Task<string> SendMxAsync(this SmtpHostFixture host, string? sender, string recipient, string message, IPAddress? from = null) =>
        host.SendMxAsync(sender, [recipient], message, from);

    public static async Task<string> SendMxAsync(this SmtpHostFixture host, string? sender, IReadOnlyList<string> recipients, string message, IPAddress? from = null)
    {
        var (smtp, greeting) = await RawSmtp.ConnectAsync(host.Mx, from: from);
        await using (smtp)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await smtp.CommandAsync("EHLO client.example"));
            Assert.StartsWith("250", await smtp.CommandAsync($"MAIL FROM:<{sender}>"));
            foreach (var r in recipients) Assert.StartsWith("250", await smtp.CommandAsync($"RCPT TO:<{r}>"));
            Assert.StartsWith("354", await smtp.CommandAsync("DATA"));
            var body = message.Replace("\r\n", "\n").Replace("\n", "\r\n");
            if (!body.EndsWith("\r\n", StringComparison.Ordinal)) body += "\r\n";
            body = body.Replace("\r\n.", "\r\n..", StringComparison.Ordinal);
            await smtp.SendRawAsync(body + ".\r\n");
            var reply = await smtp.ReadReplyAsync();
            await smtp.CommandAsync("QUIT");
            return reply;
        }
    }

    /// <summary>How many messages a folder of <paramref name="address"/> holds (0 when there is no such folder).</summary>
    public static async Task<int> FolderCount(this SmtpHostFixture host, string address, string folder)
    {
        var box = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox");
        return box.GetProperty("folders").EnumerateArray().Where(f => f.GetProperty("name").GetString() == folder)
            .Select(f => f.GetProperty("messages").GetInt32()).FirstOrDefault();
    }

    /// <summary>An IMAP session (MailKit, STARTTLS) signed in as <paramref name="address"/>.</summary>
    public static async Task WithImap(this SmtpHostFixture host, string address, Func<ImapClient, Task> action)
    {
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", host.Imap, SecureSocketOptions.StartTls);
        await imap.AuthenticateAsync(address, SmtpHostFixture.Password);
        await action(imap);
        await imap.DisconnectAsync(true);
    }

    /// <summary>Waits for at least <paramref name="count"/> messages in a folder and reads them all back over IMAP.</summary>
    public static async Task<List<MimeMessage>> ReadFolder(this SmtpHostFixture host, string address, string folder, int count)
    {
        await Eventually.Value(() => host.FolderCount(address, folder), n => n >= count, TimeSpan.FromSeconds(30),
            $"{count} message(s) in {address} {folder}", poll: TimeSpan.FromMilliseconds(100));
        var list = new List<MimeMessage>();
        await host.WithImap(address, async imap =>
        {
            var box = folder == "INBOX" ? imap.Inbox : await imap.GetFolderAsync(folder);
            await box.OpenAsync(FolderAccess.ReadOnly);
            for (var i = 0; i < box.Count; i++) list.Add(await box.GetMessageAsync(i));
        });
        return list;
    }

    /// <summary>A message with a text part and one attachment, as RFC 5322 text.</summary>
    public static string WithAttachment(string from, string to, string subject, string name, byte[] content)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.MessageId = $"{Guid.NewGuid():N}@{from.Split('@')[1]}";
        message.Date = DateTimeOffset.UtcNow;
        var body = new BodyBuilder { TextBody = "See the attachment." };
        body.Attachments.Add(name, content);
        message.Body = body.ToMessageBody();
        using var ms = new MemoryStream();
        message.WriteTo(FormatOptions.Default, ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}

/// <summary>DNS records of the senders several trust fixtures share.</summary>
public static class TrustSenders
{
    /// <summary>plain.example: SPF passes from loopback, no DMARC record (the other checks decide).</summary>
    public static void Plain(TestDnsServer dns) => dns.Txt["plain.example"] = ["v=spf1 ip4:127.0.0.0/8 -all"];

    /// <summary>reject.example: p=reject, and loopback is not its sender (only a valid signature could save its mail).</summary>
    public static void Reject(TestDnsServer dns)
    {
        dns.Txt["reject.example"] = ["v=spf1 ip4:192.0.2.1 -all"];
        dns.Txt["_dmarc.reject.example"] = ["v=DMARC1; p=reject"];
    }
}
