using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Mime;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Gateways.Common.Sorting;

/// <summary>
/// What SORT and THREAD look at of one message (RFC 5256, 5957): its number in the answer (a
/// sequence number or UID), its sequence number for ties, dates, size, the addresses' sort keys,
/// the decoded subject and the message-ids of the references. Built once per message, then sorted
/// and threaded as pure data.
/// </summary>
public sealed record MessageSummary(
    long Number,
    int Sequence,
    DateTimeOffset InternalDate,
    DateTimeOffset? SentDate,
    long Size,
    string Subject,
    string FromMailbox,
    string ToMailbox,
    string CcMailbox,
    string DisplayFrom,
    string DisplayTo,
    string? MessageId,
    IReadOnlyList<string> References)
{
    /// <summary>The sent date RFC 5256 sorts by: the Date header, or the internal date when it has none.</summary>
    public DateTimeOffset SortDate => SentDate ?? InternalDate;

    /// <summary>Reads the fields from a message's top-level headers.</summary>
    public static MessageSummary FromHeaders(long number, int sequence, DateTimeOffset internalDate, long size, HeaderList headers)
    {
        DateTimeOffset? sent = null;
        if (HeaderValues.RawValue(headers, "Date") is { } date && DateUtils.TryParse(date, out var parsed)) sent = parsed;
        var from = FirstMailbox(headers, "From");
        var to = FirstMailbox(headers, "To");
        var cc = FirstMailbox(headers, "Cc");
        return new MessageSummary(number, sequence, internalDate, sent, size,
            Decoded(headers, "Subject") ?? "",
            LocalPart(from), LocalPart(to), LocalPart(cc), Display(from), Display(to),
            MessageIdOf(headers),
            ThreadReferences(headers));
    }

    /// <summary>RFC 5256 REFERENCES step 1 (shared with the stored thread ids, <see cref="ThreadIds"/>).</summary>
    public static IReadOnlyList<string> ThreadReferences(HeaderList headers) => ThreadIds.References(headers);

    /// <summary>The message's own Message-ID (without angle brackets), or null.</summary>
    public static string? MessageIdOf(HeaderList headers) => ThreadIds.MessageId(headers);

    private static string? Decoded(HeaderList headers, string field)
    {
        var i = headers.IndexOf(field);
        return i < 0 ? null : TextSearch.DecodedValue(headers[i]);
    }

    private static MailboxAddress? FirstMailbox(HeaderList headers, string field)
    {
        var value = HeaderValues.RawValue(headers, field);
        if (string.IsNullOrWhiteSpace(value) || !InternetAddressList.TryParse(value, out var list)) return null;
        foreach (var a in list.Mailboxes) return a;
        return null;
    }

    // RFC 5256: FROM, TO and CC sort by the addr-mailbox (local part) of the first address.
    private static string LocalPart(MailboxAddress? a)
    {
        if (a is null) return "";
        var at = a.Address.LastIndexOf('@');
        return at < 0 ? a.Address : a.Address[..at];
    }

    // RFC 5957: DISPLAYFROM/DISPLAYTO sort by the display name, or the addr-spec when there is none.
    private static string Display(MailboxAddress? a)
    {
        if (a is null) return "";
        return string.IsNullOrWhiteSpace(a.Name) ? a.Address : a.Name.Trim();
    }
}
