using MimeKit;

namespace GrainMail.Gateways.Common.Mime;

/// <summary>Header values as the message has them (moved out of IMAP's body formatter, which IMAP and JMAP search share).</summary>
public static class HeaderValues
{
    /// <summary>A header's value as it is in the message, unfolded; null when absent.</summary>
    public static string? RawValue(HeaderList headers, string field) => GrainMail.Contracts.Mailboxes.ThreadIds.RawValue(headers, field);
}
