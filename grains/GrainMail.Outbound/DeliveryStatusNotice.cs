using System.Text;
using MimeKit;

namespace GrainMail.Outbound;

/// <summary>
/// A bounce as RFC 3464 asks for it: multipart/report with a part a person can read (what went
/// wrong in plain words, the remote server's reply, what to do), the machine-readable
/// message/delivery-status, and the returned message's headers.
/// </summary>
public static class DeliveryStatusNotice
{
    public static byte[] Build(string reportingHost, string sender, IReadOnlyList<RecipientResult> failed, byte[] original, DateTimeOffset arrived,
        DateTimeOffset now, bool delayed = false)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", $"mailer-daemon@{reportingHost}"));
        message.To.Add(MailboxAddress.Parse(sender));
        message.Subject = delayed ? "Delivery delayed: your message has not been delivered yet" : "Undeliverable: your message could not be delivered";
        message.Date = now;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(reportingHost);
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var text = new StringBuilder();
        text.AppendLine(delayed
            ? "Your message has not been delivered to the recipients below yet. We keep trying for up to five days; nothing needs to be done now."
            : "Your message could not be delivered to the recipients below.");
        text.AppendLine();
        foreach (var r in failed)
        {
            text.AppendLine($"  {r.Recipient}");
            text.AppendLine($"    What happened: {Explain(r)}");
            if (r.RemoteHost is not null) text.AppendLine($"    The receiving server {r.RemoteHost} said: {r.Reply}");
            else text.AppendLine($"    Details: {r.Reply}");
            text.AppendLine($"    What to do: {Advice(r)}");
            text.AppendLine();
        }
        var human = new TextPart("plain") { Text = text.ToString() };

        var status = new StringBuilder();
        status.Append($"Reporting-MTA: dns; {reportingHost}\r\n");
        status.Append($"Arrival-Date: {MimeKit.Utils.DateUtils.FormatDate(arrived)}\r\n");
        foreach (var r in failed)
        {
            status.Append("\r\n");
            status.Append($"Final-Recipient: rfc822; {r.Recipient}\r\n");
            status.Append($"Action: {(delayed ? "delayed" : "failed")}\r\n");
            status.Append($"Status: {StatusCode(r)}\r\n");
            if (r.RemoteHost is not null)
            {
                status.Append($"Remote-MTA: dns; {r.RemoteHost.Split(' ')[0]}\r\n");
                status.Append($"Diagnostic-Code: smtp; {r.Reply.Replace("\r", " ").Replace("\n", " ")}\r\n");
            }
        }
        var machine = new MimePart("message", "delivery-status")
        {
            Content = new MimeContent(new MemoryStream(Encoding.ASCII.GetBytes(status.ToString()))),
        };

        var headerEnd = HeaderEnd(original);
        var returned = new MimePart("text", "rfc822-headers")
        {
            Content = new MimeContent(new MemoryStream(original, 0, headerEnd, writable: false)),
        };
        var report = new MultipartReport("delivery-status") { human, machine, returned };
        message.Body = report;
        using var ms = new MemoryStream();
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        message.WriteTo(format, ms);
        return ms.ToArray();
    }

    private static int HeaderEnd(byte[] raw)
    {
        for (var i = 0; i + 3 < raw.Length; i++)
            if (raw[i] == '\r' && raw[i + 1] == '\n' && raw[i + 2] == '\r' && raw[i + 3] == '\n') return i + 4;
        return raw.Length;
    }

    private static string StatusCode(RecipientResult r)
    {
        // An enhanced code from the reply when there is one ("550 5.1.1 ..."), else the class.
        var parts = r.Reply.Split(' ', 3);
        if (parts.Length > 1 && parts[1].Length >= 5 && parts[1][1] == '.' && char.IsDigit(parts[1][0])) return parts[1];
        return r.Outcome == RecipientOutcome.Failed ? "5.0.0" : "4.0.0";
    }

    private static string Explain(RecipientResult r)
    {
        var reply = r.Reply.ToLowerInvariant();
        var code = StatusCode(r);
        if (code.StartsWith("5.1.", StringComparison.Ordinal) || reply.Contains("user unknown") || reply.Contains("no such user"))
            return "the address does not exist at the receiving domain.";
        if (code.StartsWith("5.2.2", StringComparison.Ordinal) || code.StartsWith("4.2.2", StringComparison.Ordinal) || reply.Contains("quota") || reply.Contains("full"))
            return "the recipient's mailbox is full.";
        if (code.StartsWith("5.7.", StringComparison.Ordinal) || reply.Contains("spam") || reply.Contains("policy") || reply.Contains("blocked"))
            return "the receiving server refused the message as spam or by its policy.";
        if (reply.Contains("null mx") || reply.Contains("does not exist"))
            return "the receiving domain does not accept mail.";
        return r.Outcome == RecipientOutcome.Deferred
            ? "no route to the receiving domain worked for five days."
            : "the receiving server refused the message.";
    }

    private static string Advice(RecipientResult r) => Explain(r) switch
    {
        var e when e.Contains("does not exist") => "check the address for typing mistakes, or ask the recipient for the right one.",
        var e when e.Contains("full") => "ask the recipient to make room, or send again later.",
        var e when e.Contains("spam") => "make sure your domain's SPF, DKIM and DMARC records are published (your administrator can check them), avoid attachments and links that look suspicious, and send again.",
        var e when e.Contains("does not accept") => "the domain cannot receive mail; use another address.",
        _ => "send again later; if it keeps failing, give your administrator this report.",
    };
}
