using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Text;

namespace GrainMail.Gateways.Smtp.Session;

/// <summary>What a trace header records about how a message arrived.</summary>
/// <param name="Helo">The name the client gave in HELO or EHLO.</param>
/// <param name="Tls">The TLS stream, when the session is encrypted.</param>
/// <param name="User">The authenticated account, if any.</param>
/// <param name="SingleRecipient">The recipient, when there is exactly one (RFC 5321 4.4 "for").</param>
internal sealed record TraceInfo(string? Helo, IPAddress Remote, string HostName, bool Extended, SslStream? Tls, string? User,
    bool SmtpUtf8, string? SingleRecipient, string Id, DateTimeOffset Time);

/// <summary>
/// The trace fields a receiving SMTP server prepends (RFC 5321 4.4): Return-Path with the reverse
/// path and a Received field with the WITH protocol names of RFC 3848 and RFC 6531 (UTF8SMTPSA…).
/// </summary>
internal static class TraceHeaders
{
    public static string ReturnPath(string? sender) => "Return-Path: <" + sender + ">\r\n";

    public static string Received(TraceInfo t)
    {
        var proto = (t.Extended ? "ESMTP" : "SMTP") + (t.Tls is not null ? "S" : "") + (t.User is not null ? "A" : "");
        if (t.SmtpUtf8) proto = "UTF8" + proto.Replace("ESMTP", "SMTP", StringComparison.Ordinal);
        var b = new StringBuilder();
        b.Append("Received: from ").Append(t.Helo).Append(" ([").Append(t.Remote).Append("])\r\n");
        b.Append("\tby ").Append(t.HostName).Append(" (GrainMail) with ").Append(proto).Append(" id ").Append(t.Id);
        if (t.Tls is { } ssl) b.Append("\r\n\t(using ").Append(TlsName(ssl.SslProtocol)).Append(" with cipher ").Append(ssl.NegotiatedCipherSuite).Append(')');
        if (t.User is not null) b.Append("\r\n\t(authenticated as ").Append(t.User).Append(')');
        if (t.SingleRecipient is not null) b.Append("\r\n\tfor <").Append(t.SingleRecipient).Append('>');
        b.Append("; ").Append(Rfc5322Date(t.Time)).Append("\r\n");
        return b.ToString();
    }

    /// <summary>RFC 5322 3.3 date-time in UTC, as MimeKit writes it.</summary>
    public static string Rfc5322Date(DateTimeOffset time) => MimeKit.Utils.DateUtils.FormatDate(time.ToUniversalTime());

    private static string TlsName(SslProtocols p) => p switch
    {
        SslProtocols.Tls13 => "TLSv1.3",
        SslProtocols.Tls12 => "TLSv1.2",
        _ => p.ToString(),
    };
}
