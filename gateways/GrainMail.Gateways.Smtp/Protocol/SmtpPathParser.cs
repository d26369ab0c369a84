using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Gateways.Smtp.Protocol;

/// <summary>
/// Paths and domains of RFC 5321 4.1.2, with the UTF-8 extensions of RFC 6531 3.3 (non-ASCII
/// in atoms, quoted strings and domain labels). Strict: a path either follows the grammar or is
/// refused. A source route (<c>@a,@b:user@c</c>) is accepted and ignored (RFC 5321 3.3, C).
/// </summary>
public static class SmtpPathParser
{
    /// <summary>RFC 5321 4.5.3.1.1–3: local part 64 octets, domain 255, whole path 256.</summary>
    public const int MaxLocalPart = 64;

    public const int MaxDomain = 255;

    public const int MaxPath = 256;

    private const string AtextSpecials = "!#$%&'*+-/=?^_`{|}~";

    /// <summary>Outcome of reading a path at the start of a string.</summary>
    public enum PathError
    {
        None,

        /// <summary>No angle brackets, or text that is not a path at all.</summary>
        Syntax,

        /// <summary>Brackets present, but the mailbox inside breaks the grammar or the length limits.</summary>
        Mailbox,
    }

    /// <summary>
    /// Reads <c>&lt;…&gt;</c> from the start of <paramref name="s"/>: <paramref name="mailbox"/> is null for
    /// <c>&lt;&gt;</c>; <paramref name="end"/> is the index just past the closing bracket.
    /// </summary>
    public static PathError TryReadPath(string s, out SmtpMailbox? mailbox, out int end)
    {
        mailbox = null;
        end = 0;
        if (s.Length < 2 || s[0] != '<') return PathError.Syntax;
        var close = FindClose(s);
        if (close < 0) return PathError.Syntax;
        end = close + 1;
        var inner = s[1..close];
        if (inner.Length == 0) return PathError.None;
        if (Encoding.UTF8.GetByteCount(inner) + 2 > MaxPath) return PathError.Mailbox;
        if (inner[0] == '@')
        {
            var colon = inner.IndexOf(':');
            if (colon < 0 || !IsSourceRoute(inner[..colon])) return PathError.Mailbox;
            inner = inner[(colon + 1)..];
        }
        mailbox = ParseMailbox(inner);
        return mailbox is null ? PathError.Mailbox : PathError.None;
    }

    /// <summary>A mailbox <c>local@domain</c> (no brackets); null when it breaks RFC 5321 4.1.2.</summary>
    public static SmtpMailbox? ParseMailbox(string s)
    {
        var at = s.LastIndexOf('@');
        if (at <= 0 || at == s.Length - 1) return null;
        var local = s[..at];
        var domain = s[(at + 1)..];
        if (!IsLocalPart(local) || Encoding.UTF8.GetByteCount(local) > MaxLocalPart) return null;
        if (domain[0] == '[')
        {
            return IsAddressLiteral(domain) ? new SmtpMailbox(local, domain, true) : null;
        }
        return IsDomain(domain, allowUnderscore: false) ? new SmtpMailbox(local, domain, false) : null;
    }

    /// <summary>Dot-string or quoted string (RFC 5321 4.1.2, RFC 6531 3.3).</summary>
    public static bool IsLocalPart(string s)
    {
        if (s.Length == 0) return false;
        if (s[0] == '"')
        {
            if (s.Length < 2 || s[^1] != '"') return false;
            for (var i = 1; i < s.Length - 1; i++)
            {
                var c = s[i];
                if (c == '\\')
                {
                    if (++i >= s.Length - 1 || s[i] is < ' ' or > '~') return false;
                }
                else if (c == '"' || !(c is >= ' ' and <= '~' || c >= 0x80 && !char.IsControl(c)))
                {
                    return false;
                }
            }
            return true;
        }
        var atomLength = 0;
        foreach (var c in s)
        {
            if (c == '.')
            {
                if (atomLength == 0) return false;
                atomLength = 0;
            }
            else if (IsAtext(c))
            {
                atomLength++;
            }
            else
            {
                return false;
            }
        }
        return atomLength > 0;
    }

    /// <summary>
    /// A domain: labels of letters, digits and inner hyphens (U-labels with SMTPUTF8, RFC 6531 3.3),
    /// separated by single dots. <paramref name="allowUnderscore"/> for EHLO names, where hosts named
    /// with underscores are common and harmless.
    /// </summary>
    public static bool IsDomain(string s, bool allowUnderscore)
    {
        if (s.Length == 0 || Encoding.UTF8.GetByteCount(s) > MaxDomain) return false;
        foreach (var label in s.Split('.'))
        {
            if (label.Length is 0 or > 63) return false;
            if (label[0] == '-' || label[^1] == '-') return false;
            foreach (var c in label)
            {
                var ok = char.IsAsciiLetterOrDigit(c) || c == '-' || allowUnderscore && c == '_'
                    || c >= 0x80 && !char.IsControl(c) && !char.IsWhiteSpace(c);
                if (!ok) return false;
            }
        }
        return true;
    }

    /// <summary><c>[192.0.2.1]</c>, <c>[IPv6:2001:db8::1]</c> or a general literal <c>[tag:content]</c> (RFC 5321 4.1.3).</summary>
    public static bool IsAddressLiteral(string s)
    {
        if (s.Length < 3 || s[0] != '[' || s[^1] != ']') return false;
        var inner = s[1..^1];
        if (inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
        {
            var v6 = inner[5..];
            return v6.Length > 0 && v6.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')
                && IPAddress.TryParse(v6, out var a6) && a6.AddressFamily == AddressFamily.InterNetworkV6;
        }
        var colon = inner.IndexOf(':');
        if (colon < 0)
        {
            var parts = inner.Split('.');
            return parts.Length == 4 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) <= 255);
        }
        // General-address-literal: Standardized-tag ":" 1*dcontent.
        var tag = inner[..colon];
        var content = inner[(colon + 1)..];
        return tag.Length > 0 && tag[^1] != '-' && tag.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            && content.Length > 0 && content.All(c => c is >= '!' and <= 'Z' or >= '^' and <= '~');
    }

    private static bool IsAtext(char c) => char.IsAsciiLetterOrDigit(c) || AtextSpecials.Contains(c) || c >= 0x80 && !char.IsControl(c) && !char.IsWhiteSpace(c);

    // A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain.
    private static bool IsSourceRoute(string s) =>
        s.Split(',').All(hop => hop.Length > 1 && hop[0] == '@' && IsDomain(hop[1..], allowUnderscore: false));

    // The closing bracket, skipping a quoted local part such as <"a>b"@example.com>.
    private static int FindClose(string s)
    {
        var quoted = false;
        for (var i = 1; i < s.Length; i++)
        {
            if (s[i] == '\\' && quoted) i++;
            else if (s[i] == '"') quoted = !quoted;
            else if (s[i] == '>' && !quoted) return i;
        }
        return -1;
    }
}
