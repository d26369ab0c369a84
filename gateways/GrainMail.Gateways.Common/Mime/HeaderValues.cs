using System.Text;
using MimeKit;

namespace GrainMail.Gateways.Common.Mime;

/// <summary>Header values as the message has them (moved out of IMAP's body formatter, which IMAP and JMAP search share).</summary>
public static class HeaderValues
{
    /// <summary>A header's value as it is in the message, unfolded; null when absent.</summary>
    public static string? RawValue(HeaderList headers, string field)
    {
        var i = headers.IndexOf(field);
        if (i < 0) return null;
        var raw = headers[i].RawValue;
        var text = Encoding.UTF8.GetString(raw).Replace("\r\n", "").Replace("\n", "").Trim();
        return text;
    }
}
