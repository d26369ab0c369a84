using MimeKit;

namespace GrainMail.Grains.Jmap;

/// <summary>What a DSN (RFC 3464) says of one recipient.</summary>
public sealed record ReportedRecipient(string Address, string? OriginalAddress, string Delivered, string SmtpReply);

/// <summary>
/// A report that arrived in a mailbox, read for EmailSubmission (RFC 8621 7): which sent message it is
/// about (the Message-ID of the returned headers or message, or an MDN's Original-Message-ID, RFC 8098
/// 3.2.5; the Original-Envelope-Id, RFC 3464 2.2.1) and what it says. Pure code, no I/O.
/// </summary>
public sealed record SubmissionReport(bool IsMdn, IReadOnlySet<string> MessageIds, string? EnvelopeId,
    IReadOnlyList<ReportedRecipient> Recipients, string? MdnRecipient, bool Displayed)
{
    /// <summary>The report in <paramref name="raw"/>, or null when it is not a DSN or an MDN.</summary>
    public static SubmissionReport? Parse(byte[] raw)
    {
        try
        {
            return ParseReport(raw);
        }
        catch (FormatException)
        {
            // Not a readable message (MimeKit's ParseException is one too): no report.
            return null;
        }
    }

    private static SubmissionReport? ParseReport(byte[] raw)
    {
        MimeMessage message;
        using (var stream = new MemoryStream(raw, writable: false)) message = MimeMessage.Load(stream);
        if (message.Body is not MultipartReport report) return null;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in report)
        {
            // The returned message or its header section (RFC 3462 / 6522: the report's optional third part).
            if (part is MessagePart { Message: { MessageId: { } mid } }) ids.Add(mid);
            else if (part is MimePart p && p.ContentType.IsMimeType("text", "rfc822-headers") && p.Content is not null)
            {
                using var s = new MemoryStream();
                p.Content.DecodeTo(s);
                s.Position = 0;
                try
                {
                    if (Normalize(HeaderList.Load(s)[HeaderId.MessageId]) is { } h) ids.Add(h);
                }
                catch (FormatException)
                {
                    // Unreadable headers: the report may still name the message otherwise.
                }
            }
        }
        if (string.Equals(report.ReportType, "disposition-notification", StringComparison.OrdinalIgnoreCase))
        {
            var mdn = report.OfType<MessageDispositionNotification>().FirstOrDefault();
            if (mdn is null) return null;
            if (Normalize(mdn.Fields["Original-Message-ID"]) is { } original) ids.Add(original);
            var recipient = Address(mdn.Fields["Final-Recipient"]) ?? Address(mdn.Fields["Original-Recipient"]);
            // RFC 8098 3.2.6: the disposition type after the ';' — "displayed" is the one RFC 8621's "displayed" means.
            var disposition = mdn.Fields["Disposition"] ?? "";
            var type = disposition.Contains(';', StringComparison.Ordinal) ? disposition[(disposition.IndexOf(';') + 1)..] : disposition;
            var shown = type.Split('/', ';')[0].Trim().Equals("displayed", StringComparison.OrdinalIgnoreCase);
            return new SubmissionReport(true, ids, null, [], recipient, shown);
        }
        if (!string.Equals(report.ReportType, "delivery-status", StringComparison.OrdinalIgnoreCase)) return null;
        var dsn = report.OfType<MessageDeliveryStatus>().FirstOrDefault();
        if (dsn is null) return null;
        var groups = dsn.StatusGroups.ToList();
        var envelopeId = groups.Count > 0 ? groups[0]["Original-Envelope-Id"]?.Trim() : null;
        var recipients = new List<ReportedRecipient>();
        foreach (var g in groups.Skip(1))
        {
            if (Address(g["Final-Recipient"]) is not { } final) continue;
            var action = (g["Action"] ?? "").Trim().ToLowerInvariant();
            var delivered = action switch
            {
                "failed" => "no",
                "delivered" => "yes",
                "delayed" => "queued",
                _ => "unknown", // relayed, expanded: gone where no more is known
            };
            recipients.Add(new ReportedRecipient(final, Address(g["Original-Recipient"]), delivered, ReplyOf(g["Diagnostic-Code"], g["Status"], delivered)));
        }
        return new SubmissionReport(false, ids, envelopeId, recipients, null, false);
    }

    /// <summary>"rfc822; bob@example.com" → "bob@example.com" (RFC 3464 2.3.2).</summary>
    private static string? Address(string? field)
    {
        if (string.IsNullOrWhiteSpace(field)) return null;
        var at = field.IndexOf(';');
        var address = (at < 0 ? field : field[(at + 1)..]).Trim().Trim('<', '>');
        return address.Length == 0 ? null : address.ToLowerInvariant();
    }

    private static string? Normalize(string? messageId)
    {
        var t = messageId?.Trim();
        if (string.IsNullOrEmpty(t)) return null;
        if (t.StartsWith('<') && t.EndsWith('>')) t = t[1..^1].Trim();
        return t.Length == 0 ? null : t;
    }

    /// <summary>The SMTP reply the DSN quotes ("smtp; 550 5.1.1 ..."), else one made from its status code.</summary>
    private static string ReplyOf(string? diagnostic, string? status, string delivered)
    {
        var code = status?.Trim() ?? "";
        var basic = code.StartsWith('5') || (code.Length == 0 && delivered == "no") ? "550" : code.StartsWith('4') ? "451" : "250";
        if (diagnostic is not null)
        {
            var at = diagnostic.IndexOf(';');
            var text = string.Join(' ', (at < 0 ? diagnostic : diagnostic[(at + 1)..]).Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
            // A diagnostic that is not an SMTP reply (the reporting MTA's own words) gets the status's code in front.
            if (text.Length > 0) return SubmissionStatus.AsSmtpReply(text, code.Length > 0 ? $"{basic} {code}" : basic);
        }
        return code.Length > 0 ? $"{basic} {code}" : delivered == "no" ? "550 5.0.0 Delivery failed" : "250 2.0.0";
    }
}
