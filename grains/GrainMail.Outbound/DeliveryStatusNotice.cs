using System.Text;
using GrainMail.Contracts.Delivery;
using MimeKit;

namespace GrainMail.Outbound;

/// <summary>
/// A bounce as RFC 3464 asks for it: multipart/report with a part a person can read (what went
/// wrong in plain words, the remote server's reply, what to do), the machine-readable
/// message/delivery-status, and the returned message's headers.
/// </summary>
public static class DeliveryStatusNotice
{
    /// <summary>
    /// Builds the report for <paramref name="results"/> (failed, delayed, or delivered when the
    /// sender asked NOTIFY=SUCCESS), honouring the message's RFC 3461 parameters: ENVID is
    /// returned as Original-Envelope-Id, each ORCPT as Original-Recipient, and RET=FULL returns
    /// the whole message (otherwise its header section only).
    /// </summary>
    public static byte[] Build(string reportingHost, string sender, IReadOnlyList<RecipientResult> results, byte[] original, DateTimeOffset arrived,
        DateTimeOffset now, bool delayed = false, DsnRequest? request = null, bool relayed = false)
    {
        request ??= DsnRequest.None;
        var allDelivered = results.All(r => r.Outcome == RecipientOutcome.Delivered);
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", $"mailer-daemon@{reportingHost}"));
        message.To.Add(MailboxAddress.Parse(sender));
        message.Subject = allDelivered ? "Delivered: your message reached its recipients"
            : delayed ? "Delivery delayed: your message has not been delivered yet"
            : "Undeliverable: your message could not be delivered";
        message.Date = now;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(reportingHost);
        // RFC 3834: an automatic answer; nobody should answer it automatically in turn.
        message.Headers.Add(HeaderId.AutoSubmitted, "auto-replied");

        var text = new StringBuilder();
        text.AppendLine(allDelivered ? "Your message was delivered to the recipients below, as you asked to be told."
            : delayed ? "Your message has not been delivered to the recipients below yet. We keep trying for up to five days; nothing needs to be done now."
            : "Your message could not be delivered to the recipients below.");
        text.AppendLine();
        foreach (var r in results)
        {
            text.AppendLine($"  {r.Recipient}");
            if (r.Outcome == RecipientOutcome.Delivered)
            {
                text.AppendLine("    Delivered.");
                text.AppendLine();
                continue;
            }
            text.AppendLine($"    What happened: {Explain(r)}");
            if (r.RemoteHost is not null) text.AppendLine($"    The receiving server {r.RemoteHost} said: {r.Reply}");
            else text.AppendLine($"    Details: {r.Reply}");
            text.AppendLine($"    What to do: {Advice(r)}");
            text.AppendLine();
        }
        var human = new TextPart("plain") { Text = text.ToString() };
        human.ContentType.Charset = "utf-8";

        var machine = new MessageDeliveryStatus();
        var perMessage = new HeaderList();
        if (request.EnvelopeId is { } envid) perMessage.Add("Original-Envelope-Id", envid);
        perMessage.Add("Reporting-MTA", $"dns; {reportingHost}");
        perMessage.Add("Arrival-Date", MimeKit.Utils.DateUtils.FormatDate(arrived));
        machine.StatusGroups.Add(perMessage);
        foreach (var r in results)
        {
            var group = new HeaderList();
            if (request.For(r.Recipient).OriginalRecipient is { } orcpt) group.Add("Original-Recipient", orcpt);
            group.Add("Final-Recipient", $"rfc822; {r.Recipient}");
            group.Add("Action", r.Outcome switch
            {
                // Handed to a server that may not report back: "relayed" (RFC 3464 2.3.3).
                RecipientOutcome.Delivered => relayed ? "relayed" : "delivered",
                RecipientOutcome.Deferred when delayed => "delayed",
                _ => "failed",
            });
            group.Add("Status", StatusCode(r));
            if (r.RemoteHost is not null) group.Add("Remote-MTA", $"dns; {r.RemoteHost.Split(' ')[0]}");
            if (r.Outcome != RecipientOutcome.Delivered) group.Add("Diagnostic-Code", $"smtp; {r.Reply.Replace("\r", " ").Replace("\n", " ")}");
            if (delayed && r.Outcome == RecipientOutcome.Deferred) group.Add("Will-Retry-Until", MimeKit.Utils.DateUtils.FormatDate(arrived.AddDays(5)));
            machine.StatusGroups.Add(group);
        }

        MimeEntity returned;
        if (request.ReturnFull)
        {
            using var stream = new MemoryStream(original, writable: false);
            returned = new MessagePart("rfc822") { Message = MimeMessage.Load(stream) };
        }
        else
        {
            returned = new MimePart("text", "rfc822-headers")
            {
                Content = new MimeContent(new MemoryStream(original, 0, HeaderEnd(original), writable: false)),
            };
        }
        message.Body = new MultipartReport("delivery-status") { human, machine, returned };
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
        return r.Outcome switch
        {
            RecipientOutcome.Delivered => "2.0.0",
            RecipientOutcome.Failed => "5.0.0",
            _ => "4.0.0",
        };
    }

    private static string Explain(RecipientResult r)
    {
        var reply = r.Reply.ToLowerInvariant();
        var code = StatusCode(r);
        if (code.StartsWith("5.2.1", StringComparison.Ordinal) || reply.Contains("disabled"))
            return "the recipient's mailbox is disabled and takes no mail.";
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
        var e when e.Contains("disabled") => "the recipient cannot receive mail now; reach them another way, or ask their administrator.",
        var e when e.Contains("spam") => "make sure your domain's SPF, DKIM and DMARC records are published (your administrator can check them), avoid attachments and links that look suspicious, and send again.",
        var e when e.Contains("does not accept") => "the domain cannot receive mail; use another address.",
        _ => "send again later; if it keeps failing, give your administrator this report.",
    };
}
