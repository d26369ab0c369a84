using System.Text;
using MimeKit;

namespace GrainMail.Sieve;

/// <summary>
/// Whether a vacation reply may go (RFC 5230 4.5, 4.6 and RFC 3834 2) and what it looks like
/// (RFC 5230 5). The "once per sender per :days" memory is the caller's (it needs storage).
/// </summary>
public static class VacationResponder
{
    private static readonly string[] ListHeaders = ["List-Id", "List-Post", "List-Unsubscribe", "List-Help", "List-Owner", "List-Archive"];

    /// <summary>Why no reply goes to this message; null when one may.</summary>
    /// <param name="ownAddresses">The recipient's addresses: its own and the script's :addresses.</param>
    public static string? WhyNot(MimeMessage message, SieveEnvelope envelope, IReadOnlyCollection<string> ownAddresses)
    {
        var sender = envelope.From;
        if (string.IsNullOrEmpty(sender)) return "the message has the null reverse path";
        if (ownAddresses.Contains(sender, StringComparer.OrdinalIgnoreCase)) return "the message is from the recipient's own address";
        // RFC 3834 2: never answer automatic mail.
        var auto = message.Headers[HeaderId.AutoSubmitted];
        if (auto is not null && !auto.Trim().StartsWith("no", StringComparison.OrdinalIgnoreCase)) return "the message is Auto-Submitted";
        var precedence = message.Headers["Precedence"]?.Trim().ToLowerInvariant();
        if (precedence is "bulk" or "list" or "junk") return $"the message has Precedence: {precedence}";
        if (ListHeaders.Any(h => message.Headers.Contains(h))) return "the message came through a mailing list";
        var local = SieveAddresses.Part(sender, "localpart")!.ToLowerInvariant();
        if (local is "mailer-daemon" or "listserv" or "majordomo" or "postmaster" or "noreply" or "no-reply" or "do-not-reply"
            || local.StartsWith("owner-", StringComparison.Ordinal) || local.EndsWith("-request", StringComparison.Ordinal)
            || local.EndsWith("-bounces", StringComparison.Ordinal) || local.EndsWith("-owner", StringComparison.Ordinal))
            return "the sender is an automatic address";
        // RFC 5230 4.5: only mail addressed to the user (not Bcc'd through a list or an alias we do not know).
        var named = new[] { "To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc" }
            .SelectMany(h => message.Headers.Where(x => x.Field.Equals(h, StringComparison.OrdinalIgnoreCase)))
            .SelectMany(h => SieveAddresses.Parse(h.Value));
        if (!named.Any(a => ownAddresses.Contains(a, StringComparer.OrdinalIgnoreCase))) return "the recipient is not named in To or Cc";
        return null;
    }

    /// <summary>The reply (RFC 5230 5): to the envelope sender, Auto-Submitted: auto-replied, threaded to the original.</summary>
    public static MimeMessage Build(VacationAction vacation, MimeMessage original, string to, string user, DateTimeOffset now, string hostName)
    {
        var reply = new MimeMessage();
        reply.From.Add(vacation.From is { } from && MailboxAddress.TryParse(from, out var f) ? f : MailboxAddress.Parse(user));
        reply.To.Add(MailboxAddress.Parse(to));
        var subject = vacation.Subject ?? ("Auto: " + (original.Subject ?? ""));
        reply.Subject = subject.Trim();
        reply.Date = now;
        reply.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(hostName);
        if (original.MessageId is { } id)
        {
            reply.InReplyTo = id;
            foreach (var r in original.References) reply.References.Add(r);
            reply.References.Add(id);
        }
        reply.Headers.Add(HeaderId.AutoSubmitted, "auto-replied");
        if (vacation.Mime)
        {
            // RFC 5230 4.4: the reason is a MIME entity, headers included.
            using var s = new MemoryStream(Encoding.UTF8.GetBytes(vacation.Reason));
            reply.Body = MimeEntity.Load(s);
        }
        else
        {
            var body = new TextPart("plain") { Text = vacation.Reason };
            body.ContentType.Charset = "utf-8";
            reply.Body = body;
        }
        return reply;
    }
}
